package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

func TestParseDeviceAndCheckSysctl(t *testing.T) {
	for in, want := range map[string]DeviceMapping{
		"/dev/fuse":             {"/dev/fuse", "/dev/fuse", "rwm"},
		"/dev/fuse:r":           {"/dev/fuse", "/dev/fuse", "r"},
		"/dev/sda:/dev/xvda":    {"/dev/sda", "/dev/xvda", "rwm"},
		"/dev/sda:/dev/xvda:rw": {"/dev/sda", "/dev/xvda", "rw"},
	} {
		if got, err := ParseDevice(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for in, msg := range map[string]string{
		"/dev/a:/b:x":   "bad mode specified: x",
		"/dev/a:rel":    "bad format for path: rel",
		"/a:/b:rw:more": "invalid device specification",
	} {
		if _, err := ParseDevice(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", in, err, msg)
		}
	}
	for _, ok := range []string{"net.ipv4.ip_forward=1", "kernel.shmmax=1", "fs.mqueue.msg_max=20", "kernel.sem=1 2 3 4"} {
		if _, _, err := CheckSysctl(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"vm.swappiness=1", "kernel.hostname=x", "net.ipv4.ip_forward"} {
		if _, _, err := CheckSysctl(bad); err == nil || !strings.Contains(err.Error(), "sysctl '"+bad+"' is not allowed") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	devs, rules, err := Devices([]DeviceMapping{{"/dev/null", "/dev/mynull", "r"}})
	if err != nil || len(devs) != 1 || devs[0].Path != "/dev/mynull" || devs[0].Major != 1 || devs[0].Minor != 3 ||
		len(rules) != 1 || rules[0].Access != "r" || !rules[0].Allow || rules[0].Type != "c" {
		t.Fatalf("Devices: %+v %+v %v", devs, rules, err)
	}
	if _, _, err := Devices([]DeviceMapping{{"/etc/hostname", "/x", "rwm"}}); err == nil || !strings.Contains(err.Error(), "not a device node") {
		t.Fatalf("a regular file as a device: %v", err)
	}
}

// docker's API sends MemorySwappiness -1 for "unset": no swappiness in
// the spec (crun refuses to write -1).
func TestLimitsSwappinessUnset(t *testing.T) {
	minus := int64(-1)
	res := &specs.LinuxResources{}
	Limits{MemorySwappiness: &minus}.Apply(res)
	if res.Memory != nil && res.Memory.Swappiness != nil {
		t.Errorf("swappiness %d set for -1", *res.Memory.Swappiness)
	}
	sixty := int64(60)
	Limits{MemorySwappiness: &sixty}.Apply(res)
	if res.Memory == nil || res.Memory.Swappiness == nil || *res.Memory.Swappiness != 60 {
		t.Errorf("swappiness 60 not set: %+v", res.Memory)
	}
}
