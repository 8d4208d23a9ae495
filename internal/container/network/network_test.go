package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMode(t *testing.T) {
	for in, want := range map[string]string{"": "bridge", "default": "bridge", "bridge": "bridge", "none": "none", "host": "host"} {
		if got := Mode(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

func TestWriteEtcFilesBridge(t *testing.T) {
	dir := t.TempDir()
	if err := WriteEtcFiles(dir, "bridge", "abc123"); err != nil {
		t.Fatal(err)
	}
	hosts, _ := os.ReadFile(filepath.Join(dir, "hosts"))
	name, _ := os.ReadFile(filepath.Join(dir, "hostname"))
	resolv, _ := os.ReadFile(filepath.Join(dir, "resolv.conf"))
	if !strings.Contains(string(hosts), GuestIP+"\tabc123\n") || string(name) != "abc123\n" || string(resolv) != "nameserver "+DNS+"\n" {
		t.Fatalf("hosts %q hostname %q resolv %q", hosts, name, resolv)
	}
}

func TestHasUsableNameserver(t *testing.T) {
	if hasUsableNameserver("nameserver 127.0.0.53\nnameserver ::1\n") {
		t.Error("loopback only counted as usable")
	}
	if !hasUsableNameserver("# x\nnameserver 127.0.0.1\nnameserver 192.0.2.1\n") {
		t.Error("192.0.2.1 not usable")
	}
}

func TestFreePort(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		if p, err := FreePort(proto); err != nil || p <= 0 {
			t.Errorf("%s: %d %v", proto, p, err)
		}
	}
}
