package container

import (
	"reflect"
	"strings"
	"testing"
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
}
