package configstep

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/images"
)

// steps parses a stage's instructions (no variables to expand).
func steps(t *testing.T, text string) []dockerfile.Instruction {
	t.Helper()
	f, err := dockerfile.Parse(strings.NewReader("FROM scratch\n"+text), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return f.Stages[0].Instructions
}

func TestForTextAndChange(t *testing.T) {
	cfg := &images.Config{}
	cfg.Config.Env = []string{"A=old"}
	cfg.Config.Cmd = []string{"inherited"}
	var texts []string
	for _, x := range steps(t, "ENV A=1 B=2\nLABEL l=v\nEXPOSE 80 7-8/udp\nSHELL [\"/bin/bash\", \"-c\"]\nUSER u\nONBUILD RUN x\n") {
		s, ok, err := For(x, cfg.Config.Shell, false)
		if !ok || err != nil {
			t.Fatalf("For(%s) = %v, %v", x.Original(), ok, err)
		}
		texts = append(texts, s.Text)
		s.Apply(cfg)
		if s.NoHistory != strings.HasPrefix(s.Text, "ONBUILD") {
			t.Errorf("%s: NoHistory = %v", s.Text, s.NoHistory)
		}
	}
	want := []string{"ENV A=1 B=2", "LABEL l=v", "EXPOSE [80/tcp 7/udp 8/udp]", "SHELL [/bin/bash -c]", "USER u", "ONBUILD RUN x"}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("texts = %q, want %q", texts, want)
	}
	if !reflect.DeepEqual(cfg.Config.Env, []string{"A=1", "B=2"}) || cfg.Config.Labels["l"] != "v" || len(cfg.Config.ExposedPorts) != 3 || cfg.Config.User != "u" || cfg.Config.OnBuild[0] != "RUN x" {
		t.Errorf("config after the steps: %+v", cfg.Config)
	}
	// The SHELL just set shapes the next shell forms.
	s, _, _ := For(steps(t, "CMD echo hi\n")[0], cfg.Config.Shell, false)
	if s.Text != `CMD ["/bin/bash" "-c" "echo hi"]` {
		t.Errorf("CMD text = %s", s.Text)
	}
}

// ENTRYPOINT resets an inherited CMD, not one the stage gave.
func TestEntrypointKeepsStageCmd(t *testing.T) {
	x := steps(t, "ENTRYPOINT [\"e\"]\n")[0]
	for _, cmdSet := range []bool{false, true} {
		cfg := &images.Config{}
		cfg.Config.Cmd = []string{"c"}
		s, _, _ := For(x, nil, cmdSet)
		s.Apply(cfg)
		if (cfg.Config.Cmd != nil) != cmdSet || cfg.Config.Entrypoint[0] != "e" {
			t.Errorf("cmdSet=%v: %+v", cmdSet, cfg.Config)
		}
	}
}

func TestForOthers(t *testing.T) {
	for _, x := range steps(t, "RUN x\nCOPY a b\nWORKDIR /w\n") {
		if _, ok, err := For(x, nil, false); ok || err != nil {
			t.Errorf("For(%s) = %v, %v", x.Original(), ok, err)
		}
	}
	if _, _, err := For(steps(t, "EXPOSE 9-1\n")[0], nil, false); err == nil {
		t.Error("EXPOSE 9-1 accepted")
	}
}

func TestWithShell(t *testing.T) {
	for _, c := range []struct {
		cl    dockerfile.CommandLine
		shell []string
		want  []string
	}{
		{dockerfile.CommandLine{Args: []string{"echo", "hi"}}, nil, []string{"/bin/sh", "-c", "echo hi"}},
		{dockerfile.CommandLine{Args: []string{"x"}}, []string{"pwsh", "-c"}, []string{"pwsh", "-c", "x"}},
		{dockerfile.CommandLine{Exec: true, Args: []string{"a", "b"}}, nil, []string{"a", "b"}},
		{dockerfile.CommandLine{Exec: true}, nil, []string{}},
	} {
		if got := WithShell(c.cl, c.shell); !reflect.DeepEqual(got, c.want) {
			t.Errorf("WithShell(%+v, %q) = %q, want %q", c.cl, c.shell, got, c.want)
		}
	}
}
