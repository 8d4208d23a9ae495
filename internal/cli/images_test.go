package cli

import (
	"github.com/hoistproject/hoist/internal/units"

	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rootfsTar writes a small rootfs tar (path -> content) into dir and returns its path.
func rootfsTar(t *testing.T, files map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(c)), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)})
		tw.Write([]byte(c))
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runIn is run with stdin.
func runIn(t *testing.T, root string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), append([]string{"--root", root}, args...), bytes.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

func mustRun(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, root, args...)
	if code != 0 {
		t.Fatalf("hoist %v: exit %d: %s", args, code, errOut)
	}
	return out
}

var idLine = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

func TestImportImagesTagRmi(t *testing.T) {
	root := t.TempDir()
	tarPath := rootfsTar(t, map[string]string{"bin/sh": strings.Repeat("x", 7_950_000), "etc/hostname": "h"})
	out := mustRun(t, root, "import", "-c", "CMD [\"/bin/sh\"]", "-c", "ENV PATH=/bin", "-m", "my message", tarPath, "busybox:1.36")
	if !idLine.MatchString(out) {
		t.Fatalf("import output %q", out)
	}
	id := strings.TrimSpace(out)
	out = mustRun(t, root, "images")
	want := regexp.MustCompile(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\nbusybox +1\.36 +` + id[7:19] + ` +(Less than a second|[0-9]+ seconds) ago +7\.95MB\n$`)
	if !want.MatchString(out) {
		t.Fatalf("images:\n%s", out)
	}
	mustRun(t, root, "tag", id[7:15], "example.com:5000/team/app:v1")
	mustRun(t, root, "image", "tag", "busybox:1.36", "busybox")
	out = mustRun(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if out != "busybox:1.36\nbusybox:latest\nexample.com:5000/team/app:v1\n" {
		t.Fatalf("images --format:\n%s", out)
	}
	out = mustRun(t, root, "images", "-q", "busy*")
	if out != id[7:19]+"\n"+id[7:19]+"\n" {
		t.Fatalf("images -q busy*: %q", out)
	}
	out = mustRun(t, root, "images", "--no-trunc", "--format", "{{.ID}}", "busybox:1.*")
	if out != id+"\n" {
		t.Fatalf("--no-trunc: %q", out)
	}
	out = mustRun(t, root, "image", "ls", "--format", "json", "busybox:latest")
	var row map[string]string
	if err := json.Unmarshal([]byte(out), &row); err != nil || row["Repository"] != "busybox" || row["Size"] != "7.95MB" || row["Digest"] != "<none>" {
		t.Fatalf("json: %q %v", out, err)
	}
	out = mustRun(t, root, "inspect", "-f", "{{index .RepoTags 0}} {{.Config.Cmd}} {{.Comment}} {{.Os}}", "busybox:1.36")
	if out != "busybox:1.36 [/bin/sh] my message linux\n" {
		t.Fatalf("inspect -f: %q", out)
	}
	out = mustRun(t, root, "image", "inspect", "--format", "{{json .Config.Env}}", id)
	if out != "[\"PATH=/bin\"]\n" {
		t.Fatalf("inspect json: %q", out)
	}
	out = mustRun(t, root, "history", "busybox")
	if !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT\n` + id[7:19] + ` +.* ago +7\.95MB +my message\n$`).MatchString(out) {
		t.Fatalf("history:\n%s", out)
	}
	out = mustRun(t, root, "history", "-H=false", "--format", "{{.Size}}", "busybox")
	if out != "7950001\n" {
		t.Fatalf("history -H=false: %q", out)
	}
	// An ID with several tags needs -f.
	_, errOut, code := run(t, root, "rmi", id[7:19])
	if code != 1 || !strings.Contains(errOut, "Error response from daemon: conflict: unable to delete "+id[7:19]+" (must be forced) - image is referenced in multiple repositories") {
		t.Fatalf("rmi id: %d %q", code, errOut)
	}
	out = mustRun(t, root, "rmi", "busybox")
	if out != "Untagged: busybox:latest\n" {
		t.Fatalf("rmi untag: %q", out)
	}
	out = mustRun(t, root, "image", "rm", "-f", id)
	if !strings.HasPrefix(out, "Untagged: busybox:1.36\nUntagged: example.com:5000/team/app:v1\nDeleted: "+id+"\nDeleted: sha256:") {
		t.Fatalf("rmi -f: %q", out)
	}
	out = mustRun(t, root, "images")
	if out != "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n" {
		t.Fatalf("images after rmi: %q", out)
	}
	out = mustRun(t, root, "system", "check")
	if !strings.Contains(out, "No problems found.") || strings.Contains(out, "leftover") {
		t.Fatalf("check: %q", out)
	}
}

func TestBadInputs(t *testing.T) {
	root := t.TempDir()
	tarPath := rootfsTar(t, map[string]string{"a": "b"})
	mustRun(t, root, "import", tarPath, "img")
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"inspect", "nosuch"}, 1, "Error: No such object: nosuch\n"},
		{[]string{"image", "inspect", "nosuch"}, 1, "Error response from daemon: no such image: nosuch: No such image: nosuch:latest\n"},
		{[]string{"container", "inspect", "nosuch"}, 1, "Error response from daemon: No such container: nosuch\n"},
		{[]string{"rmi", "nosuch", "gone:v1"}, 1, "Error response from daemon: No such image: nosuch:latest\nError response from daemon: No such image: gone:v1\n"},
		{[]string{"history", "nosuch"}, 1, "Error response from daemon: No such image: nosuch:latest\n"},
		{[]string{"tag", "nosuch", "x"}, 1, "Error response from daemon: No such image: nosuch:latest\n"},
		{[]string{"save", "nosuch"}, 1, "Error response from daemon: No such image: nosuch\n"},
		{[]string{"tag", "img", "UPPER:tag"}, 1, "Error parsing reference: \"UPPER:tag\" is not a valid repository/tag: invalid reference format: repository name (library/UPPER) must be lowercase\n"},
		{[]string{"tag", "img", "a:b:c"}, 1, "invalid reference format"},
		{[]string{"import", tarPath, "UPPER:tag"}, 1, "invalid reference format"},
		{[]string{"import", tarPath, "a:b:c"}, 1, "invalid reference format"},
		{[]string{"rmi", "UPPER:tag"}, 1, "invalid reference format"},
		{[]string{"import", "/nonexistent.tar"}, 1, "no such file"},
		{[]string{"import", "-c", "RUN x", tarPath}, 1, "RUN is not a valid change command"},
		{[]string{"images", "-f", "bogus=1"}, 1, "Error response from daemon: Invalid filter 'bogus'\n"},
		{[]string{"image", "prune", "-f", "--filter", "bogus=1"}, 1, "Error response from daemon: Invalid filter 'bogus'\n"},
		{[]string{"tag", "img"}, 1, "\"hoist tag\" requires exactly 2 arguments.\nSee 'hoist tag --help'.\n\nUsage:  hoist tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n"},
		{[]string{"rmi"}, 1, `"hoist rmi" requires at least 1 argument.`},
		{[]string{"images", "a", "b"}, 1, `"hoist images" requires at most 1 argument.`},
		{[]string{"images", "--bogus"}, 125, "unknown flag: --bogus"},
	}
	for _, c := range cases {
		_, errOut, code := run(t, root, c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("hoist %v: exit %d %q, want %d %q", c.args, code, errOut, c.code, c.err)
		}
	}
	// Corrupt and truncated tars: a clear error, nothing half-written.
	full, _ := os.ReadFile(rootfsTar(t, map[string]string{"big": strings.Repeat("z", 10000)}))
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, full[:3000], 0o644)
	gz := filepath.Join(t.TempDir(), "bad.tar.gz")
	os.WriteFile(gz, append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, bytes.Repeat([]byte{1}, 64)...), 0o644)
	for _, p := range []string{bad, gz} {
		if _, errOut, code := run(t, root, "import", p, "broken"); code != 1 || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("import %s: %d %q", p, code, errOut)
		}
	}
	if _, _, code := run(t, root, "inspect", "broken"); code != 1 {
		t.Errorf("broken import left a name")
	}
	out := mustRun(t, root, "system", "check")
	if !strings.Contains(out, "No problems found.") {
		t.Fatalf("check: %q", out)
	}
	// Inspect of one found and one missing prints the found and fails.
	out, errOut, code := run(t, root, "inspect", "--format", "{{.Os}}", "img", "nosuch")
	if code != 1 || out != "linux\n" || errOut != "Error: No such object: nosuch\n" {
		t.Errorf("partial inspect: %d %q %q", code, out, errOut)
	}
}

func TestImportStdinCompressedAndPrune(t *testing.T) {
	root := t.TempDir()
	tarPath := rootfsTar(t, map[string]string{"f": strings.Repeat("y", 1_500_000)})
	raw, _ := os.ReadFile(tarPath)
	out, errOut, code := runIn(t, root, raw, "import", "-", "one")
	if code != 0 {
		t.Fatalf("import -: %s", errOut)
	}
	id1 := strings.TrimSpace(out)
	mustRun(t, root, "import", "-m", "two", tarPath) // dangling: same layer, other config
	out = mustRun(t, root, "images", "-f", "dangling=true", "--format", "{{.Repository}} {{.Tag}}")
	if out != "<none> <none>\n" {
		t.Fatalf("dangling: %q", out)
	}
	out = mustRun(t, root, "system", "df")
	if !regexp.MustCompile(`Images +2 +0 +1\.5MB +1\.5MB \(100%\)`).MatchString(out) {
		t.Fatalf("df:\n%s", out)
	}
	out = mustRun(t, root, "system", "df", "-v")
	if !regexp.MustCompile(`one +latest +[0-9a-f]{12} .* 1\.5MB +1\.5MB +0B +0`).MatchString(out) {
		t.Fatalf("df -v:\n%s", out)
	}
	// The shared layer is not freed by pruning the dangling image.
	out = mustRun(t, root, "image", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\ndeleted: sha256:") || !strings.HasSuffix(out, "\n\nTotal reclaimed space: 0B\n") {
		t.Fatalf("prune: %q", out)
	}
	// Refused at the prompt: nothing removed.
	out, _, _ = runIn(t, root, []byte("n\n"), "image", "prune", "-a")
	if !strings.Contains(out, "Are you sure you want to continue? [y/N]") {
		t.Fatalf("prompt: %q", out)
	}
	mustRun(t, root, "inspect", id1)
	out = mustRun(t, root, "system", "prune", "-a", "-f")
	if !strings.Contains(out, "untagged: one:latest") || !strings.HasSuffix(out, "Total reclaimed space: 1.5MB\n") {
		t.Fatalf("system prune -a: %q", out)
	}
	out = mustRun(t, root, "info", "--format", "{{.Images}} {{.Driver}}")
	if out != "0 overlay2\n" {
		t.Fatalf("info: %q", out)
	}
	out = mustRun(t, root, "system", "info")
	if !strings.Contains(out, "Storage Driver: overlay2") || !strings.Contains(out, "Hoist Root Dir: "+root) {
		t.Fatalf("info: %q", out)
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "Less than a second", time.Second: "1 second", 30 * time.Second: "30 seconds",
		70 * time.Second: "About a minute", 5 * time.Minute: "5 minutes", 50 * time.Minute: "50 minutes",
		time.Hour: "About an hour", 2 * time.Hour: "2 hours", 47 * time.Hour: "47 hours", 72 * time.Hour: "3 days",
		15 * 24 * time.Hour: "2 weeks", 90 * 24 * time.Hour: "3 months", 800 * 24 * time.Hour: "2 years",
	} {
		if got := units.HumanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if ellipsis("abcdef", 4) != "abc…" || ellipsis("abc", 4) != "abc" {
		t.Error("ellipsis")
	}
}
