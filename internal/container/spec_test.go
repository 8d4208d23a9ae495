package container

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestResolveCommandPrecedence(t *testing.T) {
	cases := []struct {
		entry, cmd []string
		cfg        Config
		want       []string
	}{
		{nil, []string{"sh"}, Config{}, []string{"sh"}},
		{nil, []string{"sh"}, Config{Cmd: []string{"echo", "x"}}, []string{"echo", "x"}},
		{[]string{"/ep"}, []string{"a"}, Config{}, []string{"/ep", "a"}},
		{[]string{"/ep"}, []string{"a"}, Config{Cmd: []string{"b"}}, []string{"/ep", "b"}},
		// --entrypoint clears the image's CMD.
		{[]string{"/ep"}, []string{"a"}, Config{EntrypointSet: true, Entrypoint: []string{"/new"}}, []string{"/new"}},
		{[]string{"/ep"}, []string{"a"}, Config{EntrypointSet: true, Entrypoint: []string{"/new"}, Cmd: []string{"c"}}, []string{"/new", "c"}},
		// --entrypoint "" clears it: the command alone runs.
		{[]string{"/ep"}, []string{"a"}, Config{EntrypointSet: true, Entrypoint: []string{""}, Cmd: []string{"c"}}, []string{"c"}},
	}
	for i, c := range cases {
		got, err := resolveCommand(c.entry, c.cmd, c.cfg)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d: got %q %v want %q", i, got, err, c.want)
		}
	}
	if _, err := resolveCommand(nil, nil, Config{}); err == nil || !strings.Contains(err.Error(), "No command specified") {
		t.Errorf("no command: %v", err)
	}
}

func TestProcessEnv(t *testing.T) {
	c := &Container{Config: Config{Hostname: "h1", Env: []string{"PATH=/x", "A=1"}}}
	got := processEnv(c, true, []string{"A=2"})
	want := []string{"PATH=/x", "HOSTNAME=h1", "TERM=xterm", "A=2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := withHome([]string{"HOME=/h"}, "/root"); len(got) != 1 {
		t.Fatalf("HOME overridden: %q", got)
	}
}

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
	busyboxRootfs(t, root)
	u, err := ResolveUser(root, "alice")
	if err != nil || u.UID != 1000 || u.GID != 1000 || !reflect.DeepEqual(u.Groups, []uint32{50}) || u.Home != "/home/alice" {
		t.Fatalf("alice: %+v %v", u, err)
	}
	if u, err = ResolveUser(root, "1234:5"); err != nil || u.UID != 1234 || u.GID != 5 {
		t.Fatalf("numeric: %+v %v", u, err)
	}
	if u, err = ResolveUser(root, ""); err != nil || u.UID != 0 || u.Home != "/root" {
		t.Fatalf("default: %+v %v", u, err)
	}
	if _, err = ResolveUser(root, "alice:nogroup-x"); err == nil {
		t.Fatal("unknown group accepted")
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"KILL": 9, "SIGTERM": 15, "9": 9, "hup": 1, "USR1": 10} {
		s, err := ParseSignal(in)
		if err != nil || int(s) != want {
			t.Errorf("%s: %d %v", in, s, err)
		}
	}
	if _, err := ParseSignal("NOPE"); err == nil {
		t.Error("NOPE accepted")
	}
}
