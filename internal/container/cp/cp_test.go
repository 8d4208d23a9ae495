package cp

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func names(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestFromTo(t *testing.T) {
	ctx := context.Background()
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc/app"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc/app/conf"), []byte("x"), 0o644)
	os.Symlink("/etc/app", filepath.Join(rootfs, "link"))
	var b bytes.Buffer
	if err := From(ctx, &b, rootfs, "ctr", "/etc/app", false, ""); err != nil {
		t.Fatal(err)
	}
	if got := names(t, b.Bytes()); !reflect.DeepEqual(got, []string{"app/", "app/conf"}) {
		t.Fatalf("dir: %q", got)
	}
	b.Reset()
	if err := From(ctx, &b, rootfs, "ctr", "/link", false, ""); err != nil {
		t.Fatal(err)
	}
	if got := names(t, b.Bytes()); !reflect.DeepEqual(got, []string{"link"}) {
		t.Fatalf("symlink: %q", got)
	}
	b.Reset()
	if err := From(ctx, &b, rootfs, "ctr", "/link", true, "renamed"); err != nil {
		t.Fatal(err)
	}
	if got := names(t, b.Bytes()); !reflect.DeepEqual(got, []string{"renamed/", "renamed/conf"}) {
		t.Fatalf("followed: %q", got)
	}
	if err := From(ctx, &b, rootfs, "ctr", "/nope", false, ""); !errdefs.IsNotFound(err) {
		t.Fatalf("missing: %v", err)
	}

	var hb bytes.Buffer
	if err := TarHostPath(ctx, &hb, filepath.Join(rootfs, "etc/app/conf"), "conf2", false, false); err != nil {
		t.Fatal(err)
	}
	if err := To(ctx, rootfs, "ctr", "/etc", &hb); err != nil {
		t.Fatal(err)
	}
	if c, _ := os.ReadFile(filepath.Join(rootfs, "etc/conf2")); string(c) != "x" {
		t.Fatalf("copied in: %q", c)
	}
	if err := To(ctx, rootfs, "ctr", "/etc/conf2", bytes.NewReader(nil)); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("to a file: %v", err)
	}
}

// TestFromToStayInRoot: a symlink in the root filesystem naming a host
// directory (absolute, or climbing with ..) is resolved inside the root:
// From never reads the host's file, To never writes beside it.
func TestFromToStayInRoot(t *testing.T) {
	ctx := context.Background()
	rootfs, host := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600)
	os.Symlink(host, filepath.Join(rootfs, "abs"))
	os.Symlink("../../../../../../.."+host, filepath.Join(rootfs, "up"))
	for _, p := range []string{"/abs/secret", "/up/secret", "/abs"} {
		var b bytes.Buffer
		err := From(ctx, &b, rootfs, "ctr", p, true, "")
		if bytes.Contains(b.Bytes(), []byte("host")) {
			t.Fatalf("From %s read the host's file", p)
		}
		if !errdefs.IsNotFound(err) {
			t.Fatalf("From %s: %v", p, err)
		}
	}
	var hb bytes.Buffer
	if err := TarHostPath(ctx, &hb, filepath.Join(rootfs, "abs", "secret"), "planted", false, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/abs", "/up"} {
		if err := To(ctx, rootfs, "ctr", p, bytes.NewReader(hb.Bytes())); !errdefs.IsNotFound(err) {
			t.Fatalf("To %s: %v", p, err)
		}
	}
	if ents, _ := os.ReadDir(host); len(ents) != 1 {
		t.Fatalf("To wrote on the host: %d entries", len(ents))
	}
	if fi, err := Stat(rootfs, "/abs"); err == nil {
		t.Fatalf("Stat through the symlink reached the host: %v", fi.Name())
	}
}
