package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/spec"
)

func TestParsePort(t *testing.T) {
	cases := map[string]network.PortBinding{
		"80":                {ContainerPort: 80, Proto: "tcp"},
		"8080:80":           {HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1:8080:80": {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1::53/udp": {HostIP: "127.0.0.1", ContainerPort: 53, Proto: "udp"},
	}
	for in, want := range cases {
		got, err := parsePort(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "80/sctp", "1:2:3:4", "70000", "a:80"} {
		if _, err := parsePort(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestParseBytesAndUlimit(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512k": 512 << 10, "64m": 64 << 20, "1g": 1 << 30, "2GB": 2 << 30, "1.5m": 3 << 19} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if _, err := parseBytes("lots"); err == nil {
		t.Error("bad size accepted")
	}
	if u, err := spec.ParseUlimit("nofile=100:200"); err != nil || u != (spec.Ulimit{Name: "nofile", Soft: 100, Hard: 200}) {
		t.Errorf("ulimit: %+v %v", u, err)
	}
	if u, err := spec.ParseUlimit("nproc=50"); err != nil || u.Soft != 50 || u.Hard != 50 {
		t.Errorf("ulimit single: %+v %v", u, err)
	}
	if _, err := spec.ParseUlimit("nofile=200:100"); err == nil {
		t.Error("soft > hard accepted")
	}
}

func TestParseEnv(t *testing.T) {
	f := filepath.Join(t.TempDir(), "env")
	os.WriteFile(f, []byte("# comment\nFROM_FILE=1\n\nHOIST_TEST_PASS\n"), 0o644)
	t.Setenv("HOIST_TEST_PASS", "passed")
	got, err := parseEnv([]string{"A=1", "HOIST_TEST_PASS", "UNSET_VAR_XYZ"}, []string{f})
	want := []string{"FROM_FILE=1", "HOIST_TEST_PASS=passed", "A=1", "HOIST_TEST_PASS=passed"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestSplitCpArg(t *testing.T) {
	for in, want := range map[string][2]string{"ctr:/a": {"ctr", "/a"}, "/host:x": {"", "/host:x"}, "./rel": {"", "./rel"}, "file": {"", "file"}, "-": {"", "-"}} {
		c, p := splitCpArg(in)
		if c != want[0] || p != want[1] {
			t.Errorf("%s: %q %q", in, c, p)
		}
	}
}
