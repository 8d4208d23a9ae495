package spec

import (
	"slices"
	"strings"
	"testing"
)

func TestCapSet(t *testing.T) {
	set, err := CapSet([]string{"net_admin", "CAP_SYS_PTRACE"}, []string{"chown", "MKNOD"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_KILL"} {
		if !slices.Contains(set, c) {
			t.Errorf("%s missing from %v", c, set)
		}
	}
	for _, c := range []string{"CAP_CHOWN", "CAP_MKNOD"} {
		if slices.Contains(set, c) {
			t.Errorf("%s not dropped: %v", c, set)
		}
	}
	if set, _ := CapSet([]string{"chown"}, []string{"ALL"}); !slices.Equal(set, []string{"CAP_CHOWN"}) {
		t.Errorf("drop ALL, add chown: %v", set)
	}
	if set, _ := CapSet([]string{"ALL"}, nil); len(set) != len(grantable()) || len(set) < 30 {
		t.Errorf("add ALL: %d capabilities, %d grantable", len(set), len(grantable()))
	}
	if _, err := CapSet([]string{"nope"}, nil); err == nil || err.Error() != `invalid CapAdd: unknown capability: "CAP_NOPE"` {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestTmpfs(t *testing.T) {
	m := Tmpfs("/run", "size=1m,exec,mode=700")
	if m.Type != "tmpfs" || m.Destination != "/run" || strings.Join(m.Options, ",") != "nodev,nosuid,size=1m,mode=700" {
		t.Fatalf("tmpfs: %+v", m)
	}
	if m := Tmpfs("/t", ""); strings.Join(m.Options, ",") != "nodev,noexec,nosuid" {
		t.Fatalf("default tmpfs options: %v", m.Options)
	}
}
