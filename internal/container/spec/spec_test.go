package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRlimitsClampedToHost(t *testing.T) {
	var host unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &host)
	rl, err := Rlimits([]Ulimit{{Name: "nofile", Soft: 1 << 40, Hard: 1 << 40}, {Name: "nproc", Soft: 10, Hard: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if rl[0].Type != "RLIMIT_NOFILE" || rl[0].Hard != host.Max || rl[0].Soft > rl[0].Hard {
		t.Fatalf("nofile not clamped to host hard %d: %+v", host.Max, rl[0])
	}
	if rl[1].Type != "RLIMIT_NPROC" || rl[1].Soft != 10 || rl[1].Hard != 20 {
		t.Fatalf("nproc: %+v", rl[1])
	}
	if _, err := Rlimits([]Ulimit{{Name: "bogus"}}); err == nil {
		t.Fatal("bogus ulimit accepted")
	}
}

func TestResolveUserFiles(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nnogroup:x:65534:\n"), 0o644)
	u, err := ResolveUser(root, "alice")
	if err != nil || u.UID != 1000 || u.GID != 1000 || !reflect.DeepEqual(u.Groups, []uint32{1000, 50}) || u.Home != "/home/alice" {
		t.Fatalf("alice: %+v %v", u, err)
	}
	// The primary group is a supplementary group too (docker since
	// 20.10.18, CVE-2022-36109).
	if u, err = ResolveUser(root, "1234:5"); err != nil || u.UID != 1234 || u.GID != 5 || !reflect.DeepEqual(u.Groups, []uint32{5}) {
		t.Fatalf("numeric: %+v %v", u, err)
	}
	if u, err = ResolveUser(root, ""); err != nil || u.UID != 0 || u.Home != "/root" {
		t.Fatalf("default: %+v %v", u, err)
	}
	if _, err = ResolveUser(root, "alice:nogroup-x"); err == nil {
		t.Fatal("unknown group accepted")
	}
}

func TestWithHome(t *testing.T) {
	if got := WithHome([]string{"HOME=/h"}, "/root"); len(got) != 1 {
		t.Fatalf("HOME overridden: %q", got)
	}
	if got := WithHome([]string{"A=1"}, "/root"); !reflect.DeepEqual(got, []string{"A=1", "HOME=/root"}) {
		t.Fatalf("HOME not added: %q", got)
	}
}
