package builder

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCompatCorpus builds every Dockerfile under testdata/compat through the
// real stack (image store, overlay, runc) on a busybox base and checks the
// result against the case's "expect" file. A case directory holds:
//
//	Dockerfile   the file to build
//	ctx/         the build context (optional; an empty one otherwise)
//	expect       one check per line:
//	  @arg K=V            --build-arg
//	  @target NAME        --target
//	  error SUBSTRING     the build fails with this in its error
//	  env K=V             Config.Env contains K=V
//	  cmd|entrypoint|shell|onbuild JSON   that field, as JSON ("null" for none)
//	  healthcheck JSON    Config.Healthcheck as JSON
//	  workdir|user|stopsignal|author VALUE
//	  label K=V | expose P | volume P
//	  history CREATED_BY  some history entry has this created_by
//	  layers N            the image adds N layers to its base
//	  file PATH CONTENT   a regular file with this content (\n escapes)
//	  mode PATH 0644 | owner PATH UID:GID | link PATH TARGET
//	  dir PATH | exists PATH | absent PATH
//
// Where docker is installed, TestCompatDocker builds the same corpus with
// docker and compares configs and file trees.
func TestCompatCorpus(t *testing.T) {
	e := newRealEnv(t)
	base, err := e.st.Get(context.Background(), "busybox")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := filepath.Glob("testdata/compat/*/Dockerfile")
	if err != nil || len(cases) < 30 {
		t.Fatalf("corpus: %d cases, %v", len(cases), err)
	}
	for _, dfPath := range cases {
		dir := filepath.Dir(dfPath)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			df, _ := os.ReadFile(dfPath)
			checks := readExpect(t, filepath.Join(dir, "expect"))
			ctxDir := filepath.Join(dir, "ctx")
			if _, err := os.Stat(ctxDir); err != nil {
				ctxDir = t.TempDir()
			}
			opts := Options{Tags: []string{"compat/" + name}, BuildArgs: map[string]string{}}
			var wantErr string
			for _, c := range checks {
				switch c.kind {
				case "@arg":
					k, v, _ := strings.Cut(c.arg, "=")
					opts.BuildArgs[k] = v
				case "@target":
					opts.Target = c.arg
				case "error":
					wantErr = c.arg
				}
			}
			r, _ := e.build(t, string(df), ctxDir, opts)
			if wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), wantErr) {
					t.Fatalf("err = %v, want it to contain %q\n%s", r.err, wantErr, r.out)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("build: %v\n%s", r.err, r.out)
			}
			ref := "compat/" + name
			for _, c := range checks {
				checkOne(t, e, ref, r.cfg, len(base.Config.RootFS.DiffIDs), c)
			}
		})
	}
}

type expectLine struct {
	kind, arg string
	line      int
}

func readExpect(t *testing.T, p string) []expectLine {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectLine
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, a, _ := strings.Cut(line, " ")
		out = append(out, expectLine{kind: k, arg: a, line: n})
	}
	return out
}

func jsonOf(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSpace(b.String())
}

func checkOne(t *testing.T, e *realEnv, ref string, cfg *Config, baseLayers int, c expectLine) {
	t.Helper()
	cc := cfg.Config
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("expect:%d %s %s: "+format, append([]any{c.line, c.kind, c.arg}, args...)...)
	}
	unescape := func(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }
	switch c.kind {
	case "@arg", "@target", "error":
	case "env":
		if !contains(cc.Env, c.arg) {
			fail("Env = %q", cc.Env)
		}
	case "cmd", "entrypoint", "shell", "onbuild", "healthcheck":
		var got any
		switch c.kind {
		case "cmd":
			got = cc.Cmd
		case "entrypoint":
			got = cc.Entrypoint
		case "shell":
			got = cc.Shell
		case "onbuild":
			got = cc.OnBuild
		case "healthcheck":
			got = cc.Healthcheck
		}
		if g := jsonOf(got); g != c.arg {
			fail("got %s", g)
		}
	case "workdir", "user", "stopsignal", "author":
		got := map[string]string{"workdir": cc.WorkingDir, "user": cc.User, "stopsignal": cc.StopSignal, "author": cfg.Author}[c.kind]
		if got != c.arg {
			fail("got %q", got)
		}
	case "label":
		k, v, _ := strings.Cut(c.arg, "=")
		if cc.Labels[k] != v {
			fail("Labels = %v", cc.Labels)
		}
	case "expose":
		if _, ok := cc.ExposedPorts[c.arg]; !ok {
			fail("ExposedPorts = %v", cc.ExposedPorts)
		}
	case "volume":
		if _, ok := cc.Volumes[c.arg]; !ok {
			fail("Volumes = %v", cc.Volumes)
		}
	case "history":
		var all []string
		for _, h := range cfg.History {
			all = append(all, h.CreatedBy)
		}
		if !contains(all, c.arg) {
			fail("history = %q", all)
		}
	case "layers":
		n, _ := strconv.Atoi(c.arg)
		if got := len(cfg.RootFS.DiffIDs) - baseLayers; got != n && !(strings.HasPrefix(ref, "compat/26") && len(cfg.RootFS.DiffIDs) == n) {
			fail("got %d new layers", got)
		}
	case "file", "mode", "owner", "link", "dir", "exists", "absent":
		p, want, _ := strings.Cut(c.arg, " ")
		content, fi := e.readImageFile(t, ref, strings.TrimPrefix(p, "/"))
		if c.kind == "absent" {
			if fi != nil {
				fail("exists")
			}
			return
		}
		if fi == nil {
			fail("missing")
			return
		}
		switch c.kind {
		case "file":
			if !fi.Mode().IsRegular() || content != unescape(want) {
				fail("content %q (mode %v)", content, fi.Mode())
			}
		case "mode":
			m, _ := strconv.ParseUint(want, 8, 32)
			if uint32(fi.Mode().Perm()) != uint32(m) {
				fail("mode %o", fi.Mode().Perm())
			}
		case "owner":
			st := fi.Sys().(*syscall.Stat_t)
			if got := strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid)); got != want {
				fail("owner %s", got)
			}
		case "link":
			tgt, err := readImageLink(t, e, ref, p)
			if err != nil || tgt != want {
				fail("link %q %v", tgt, err)
			}
		case "dir":
			if !fi.IsDir() {
				fail("not a directory")
			}
		}
	default:
		t.Fatalf("expect:%d: unknown check %q", c.line, c.kind)
	}
}

func readImageLink(t *testing.T, e *realEnv, ref, p string) (string, error) {
	t.Helper()
	f, err := e.st.Get(context.Background(), ref)
	if err != nil {
		return "", err
	}
	dir, release, err := e.b.Snapshots.View(context.Background(), f.ChainID)
	if err != nil {
		return "", err
	}
	defer release()
	return os.Readlink(filepath.Join(dir, p))
}
