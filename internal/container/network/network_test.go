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
	if err := WriteEtcFiles(dir, "bridge", "abc123", Etc{}); err != nil {
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

func TestWriteEtcFilesExtra(t *testing.T) {
	dir := t.TempDir()
	e := Etc{ExtraHosts: []string{"db:10.1.2.3", "gw:host-gateway"}, DNS: []string{"9.9.9.9", "1.1.1.1"}, DNSOptions: []string{"ndots:2"}}
	if err := WriteEtcFiles(dir, "bridge", "abc123", e); err != nil {
		t.Fatal(err)
	}
	hosts, _ := os.ReadFile(filepath.Join(dir, "hosts"))
	if !strings.HasSuffix(string(hosts), GuestIP+"\tabc123\n10.1.2.3\tdb\n"+Gateway+"\tgw\n") {
		t.Fatalf("hosts: %q", hosts)
	}
	resolv, _ := os.ReadFile(filepath.Join(dir, "resolv.conf"))
	if string(resolv) != "nameserver 9.9.9.9\nnameserver 1.1.1.1\noptions ndots:2\n" {
		t.Fatalf("resolv.conf: %q", resolv)
	}
	// search alone keeps the network's nameserver
	if err := WriteEtcFiles(dir, "bridge", "abc123", Etc{DNSSearch: []string{"a.example", "b.example"}}); err != nil {
		t.Fatal(err)
	}
	resolv, _ = os.ReadFile(filepath.Join(dir, "resolv.conf"))
	if string(resolv) != "search a.example b.example\nnameserver "+DNS+"\n" {
		t.Fatalf("resolv.conf with search: %q", resolv)
	}
}
