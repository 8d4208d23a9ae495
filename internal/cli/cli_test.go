package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// run executes hoist in-process and returns stdout, stderr and the exit code.
func run(t *testing.T, root string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), append([]string{"--root", root}, args...), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestVersionAndUnknownCommand(t *testing.T) {
	out, _, code := run(t, t.TempDir(), "version")
	if code != 0 || !strings.Contains(out, "hoist") {
		t.Fatalf("version: %d %q", code, out)
	}
	for _, flag := range []string{"--version", "-v"} {
		out, _, code = run(t, t.TempDir(), flag)
		if code != 0 || out != "hoist version "+Version+"\n" {
			t.Fatalf("%s: %d %q", flag, code, out)
		}
	}
	// docker's version --format fields, which scripts read
	out, _, code = run(t, t.TempDir(), "version", "--format", "{{.Client.Version}} {{.Server.Version}} {{.Client.ApiVersion}} {{.Server.Os}}")
	if code != 0 || out != Version+" "+Version+" 1.41 linux\n" {
		t.Fatalf("version --format: %d %q", code, out)
	}
	if _, errOut, code := run(t, t.TempDir(), "version", "--format", "{{.Nope"); code == 0 || errOut == "" {
		t.Fatalf("bad version template: %d %q", code, errOut)
	}
	_, _, code = run(t, t.TempDir(), "no-such-verb")
	if code == 0 {
		t.Fatalf("unknown verb exited 0")
	}
	_, errOut, code := run(t, t.TempDir(), "version", "--bogus")
	if code != 125 || !strings.Contains(errOut, "unknown flag") {
		t.Fatalf("bad flag: %d %q", code, errOut)
	}
}

func TestRenderList(t *testing.T) {
	type row struct{ Repository, Tag string }
	rows := []any{row{"busybox", "latest"}, row{"debian", "12"}}
	var b bytes.Buffer
	err := renderList(&b, "", "table {{.Repository}}\t{{.Tag}}", map[string]string{"Repository": "REPOSITORY", "Tag": "TAG"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "REPOSITORY   TAG\nbusybox      latest\ndebian       12\n"
	if b.String() != want {
		t.Fatalf("got %q want %q", b.String(), want)
	}
	b.Reset()
	renderList(&b, "{{.Repository}}:{{.Tag}}", "", nil, rows)
	if b.String() != "busybox:latest\ndebian:12\n" {
		t.Fatalf("raw template: %q", b.String())
	}
	b.Reset()
	if err := renderList(&b, "{{.Nope", "", nil, rows); err == nil {
		t.Fatal("bad template accepted")
	}
}

func TestRenderInspectNumbers(t *testing.T) {
	var b bytes.Buffer
	if err := renderInspect(&b, "{{.Size}} {{json .Size}}", []any{map[string]any{"Size": int64(1985581)}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "1985581 1985581\n" {
		t.Fatalf("got %q", b.String())
	}
}

// Only the named verb is built: the tables must name each command as it
// names itself, and help, unknown verbs and root flags still see them all.
func TestVerbTablesAndCommandWord(t *testing.T) {
	e := &env{in: strings.NewReader(""), out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
	for name, build := range topVerbs() {
		if got := build(e).Name(); got != name {
			t.Errorf("topVerbs[%q] builds %q", name, got)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--root", "/r", "run", "--rm", "x"}, "run"},
		{[]string{"--root=/r", "-D", "--log-level", "debug", "ps", "-a"}, "ps"},
		{[]string{"--log-level=info", "--debug", "container", "ls"}, "container"},
		{[]string{"--config", "/c", "pull", "x"}, "pull"},
		{[]string{"--config=/c", "login"}, "login"},
		{[]string{"--root", "/r", "--help"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"--root", "/r"}, ""},
	} {
		if got := commandWord(newRootCommand(e, nil).PersistentFlags(), tc.args); got != tc.want {
			t.Errorf("commandWord(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	root := t.TempDir()
	out, _, code := run(t, root, "--help")
	for _, verb := range []string{"run", "images", "registry", "system", "container"} {
		if code != 0 || !strings.Contains(out, "\n  "+verb+" ") {
			t.Fatalf("--help (%d) does not list %s:\n%s", code, verb, out)
		}
	}
	out, _, code = run(t, root, "help", "run")
	if code != 0 || !strings.Contains(out, "--rm") {
		t.Fatalf("help run: %d %q", code, out)
	}
	out, _, code = run(t, root, "run", "--help")
	if code != 0 || !strings.Contains(out, "--rm") {
		t.Fatalf("run --help: %d %q", code, out)
	}
	// docker's shape: one usage line without cobra's "[flags]", examples,
	// one default per flag, the root's commands grouped as docker's.
	if !strings.HasPrefix(out, "Usage:  hoist run [OPTIONS] IMAGE [COMMAND] [ARG...]\n") || strings.Contains(out, "[flags]") ||
		!strings.Contains(out, "\nExamples:\n") || strings.Count(out, "--network string") != 1 ||
		strings.Contains(out, "(default: bridge") {
		t.Errorf("run --help is not in docker's shape:\n%s", out)
	}
	out, _, _ = run(t, root, "--help")
	common, mgmt, rest := strings.Index(out, "\nCommon Commands:\n  run "), strings.Index(out, "\nManagement Commands:\n"), strings.Index(out, "\nCommands:\n")
	if !strings.HasPrefix(out, "Usage:  hoist [OPTIONS] COMMAND\n") || common < 0 || mgmt < common || rest < mgmt || strings.Contains(out, "[command]") {
		t.Errorf("--help is not grouped as docker's:\n%s", out)
	}
	_, errOut, _ := run(t, root, "image", "lz")
	if !strings.HasPrefix(errOut, "hoist: unknown command: hoist image lz\n\nDid you mean this?\n\tls\n") || !strings.HasSuffix(errOut, "Run 'hoist image --help' for more information\n") {
		t.Errorf("image lz: %q", errOut)
	}
	_, errOut, code = run(t, root, "imagse")
	if code != 1 || errOut != "hoist: unknown command: hoist imagse\n\nDid you mean this?\n\timage\n\timages\n\nRun 'hoist --help' for more information\n" {
		t.Fatalf("unknown verb: %d %q", code, errOut)
	}
	out, _, code = run(t, root, "ls")
	if code != 0 || !strings.HasPrefix(out, "CONTAINER ID") {
		t.Fatalf("ls (ps's alias): %d %q", code, out)
	}
}

// docker's --disable-content-trust is accepted as its default on the
// commands that take it; asking for Notary signing, or an isolation other
// than default, is refused with a clear message.
func TestContentTrustAndIsolationFlags(t *testing.T) {
	root := t.TempDir()
	for _, verb := range [][]string{{"pull"}, {"push"}, {"create"}, {"run"}, {"build"}} {
		_, errOut, code := run(t, root, append(verb, "--disable-content-trust=false", "x")...)
		if code == 0 || !strings.Contains(errOut, "content trust (Notary image signing) is not supported by hoist") {
			t.Errorf("%s --disable-content-trust=false: %d %q", verb[0], code, errOut)
		}
	}
	_, errOut, code := run(t, root, "build", "--isolation", "hyperv", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "Isolation 'hyperv' is not supported") {
		t.Errorf("build --isolation hyperv: %d %q", code, errOut)
	}
	_, errOut, code = run(t, root, "pull", "--disable-content-trust", "127.0.0.1:1/nosuch:1")
	if code == 0 || strings.Contains(errOut, "unknown flag") || strings.Contains(errOut, "content trust") {
		t.Errorf("pull --disable-content-trust should reach the registry (and fail there): %d %q", code, errOut)
	}
}
