package engine

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hoistproject/hoist/"

// cliImports are the packages of this module that internal/cli may import,
// each with its reason. The engine is the front-end's way in; the rest are
// values, formatting or the process's own setup.
var cliImports = map[string]string{
	"internal/engine":           "the application layer: every use case",
	"internal/errdefs":          "error kinds, translated to exit codes once (cli/exit.go)",
	"internal/units":            "formatting sizes and parsing size flags",
	"internal/reference":        "parsing and printing image references (values)",
	"internal/rootless":         "entering the user's namespaces before anything runs",
	"internal/builder/progress": "the build's output modes (values)",
	"internal/builder/output":   "parsing --output (a value)",
	"internal/container/spec":   "parsing run's resource and device flags (values)",
	"internal/container/attach": "the terminal streams of run/attach/exec",
	"internal/fsutil":           "crash-safe writes of the client's own files (save -o, export -o)",
	"internal/apiserver":        "the serve verb: the Docker Engine API, a front-end of its own",
}

// apiImports are the packages of this module that internal/apiserver, the
// Engine API's front-end, may import, each with its reason.
var apiImports = map[string]string{
	"internal/engine":             "the application layer: every use case",
	"internal/errdefs":            "error kinds, translated to HTTP statuses once (apiserver/errors.go)",
	"internal/reference":          "parsing image references of pull and push (values)",
	"internal/builder/progress":   "the build's output modes (values)",
	"internal/container/attach":   "the streams of attach and exec on hijacked connections",
	"internal/apiserver/buildkit": "BuildKit's /grpc and /session, a part of the Engine API",
	"internal/builder/output":     "a build's output, files instead of an image (a value)",
	"internal/units":              "formatting sizes (BuildKit's transfer lines)",
}

// imports lists the module's packages that the non-test Go files of dir
// import.
func imports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, module) {
				out[strings.TrimPrefix(p, module)] = true
			}
		}
	}
	return out
}

// internal/cli and internal/apiserver import only what cliImports and
// apiImports list, and no package of the module but cmd/hoist and the
// front-ends imports the engine or the cli.
func TestDependencies(t *testing.T) {
	root := filepath.Join("..", "..")
	for dir, allowed := range map[string]map[string]string{"cli": cliImports, "apiserver": apiImports, "apiserver/buildkit": apiImports} {
		for p := range imports(t, filepath.Join(root, "internal", dir)) {
			if _, ok := allowed[p]; !ok {
				t.Errorf("internal/%s imports %s: call it through internal/engine", dir, p)
			}
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "internal/cli" || rel == "internal/engine" || rel == "internal/apiserver" || rel == "internal/apiserver/buildkit" {
			return nil
		}
		for p := range imports(t, path) {
			if p == "internal/cli" || p == "internal/engine" {
				t.Errorf("%s imports %s: lower packages never import upward", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range imports(t, ".") {
		if p == "internal/cli" {
			t.Errorf("internal/engine imports internal/cli")
		}
	}
}
