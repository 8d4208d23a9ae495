package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBind(t *testing.T) {
	for in, want := range map[string]Bind{
		"/h:/c":               {"/h", "/c", true, "", false},
		"/h:/c/../d:ro":       {"/h", "/d", false, "", false},
		"vol:/data:rw,z":      {"vol", "/data", true, "", false},
		"/h:/c:ro,rslave":     {"/h", "/c", false, "rslave", false},
		"vol:/data:nocopy,ro": {"vol", "/data", false, "", true},
		"/h:/c:shared":        {"/h", "/c", true, "shared", false},
	} {
		if got, err := ParseBind(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for in, msg := range map[string]string{
		"/only":               "invalid volume specification: '/only'",
		"/h:/c:bad":           "invalid mode: bad",
		"/h:/c:shared,rslave": "invalid mode: shared,rslave",
		"/h:rel":              "mount path must be absolute",
		"/h:/":                "destination can't be '/'",
	} {
		if _, err := ParseBind(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", in, err, msg)
		}
	}
	if (Bind{Source: "/x"}).HostPath() != true || (Bind{Source: "x"}).HostPath() {
		t.Error("HostPath")
	}
	if CheckName("good.name_1") != nil || CheckName("bad/name") == nil {
		t.Error("CheckName")
	}
}

func TestStoreAndPopulate(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	dir, created, err := s.Path("v1")
	if err != nil || !created || dir != filepath.Join(s.Dir, "v1", "_data") {
		t.Fatalf("path %q %v %v", dir, created, err)
	}
	if again, created, err := s.Path("v1"); err != nil || created || again != dir {
		t.Fatalf("path of an existing volume: %q %v %v", again, created, err)
	}
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "data/sub"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "data/sub/f"), []byte("image"), 0o644)
	ctx := context.Background()
	if err := Populate(ctx, dir, "v1", rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sub/f")); string(b) != "image" {
		t.Fatalf("copy-up: %q", b)
	}
	// Not empty any more: left alone.
	os.WriteFile(filepath.Join(rootfs, "data/g"), nil, 0o644)
	if err := Populate(ctx, dir, "v1", rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "g")); err == nil {
		t.Fatal("non-empty volume populated again")
	}
	if names := s.Names(); len(names) != 1 || names[0] != "v1" {
		t.Fatalf("names %v", names)
	}
	s.Remove("v1")
	if len(s.Names()) != 0 {
		t.Fatal("not removed")
	}
}
