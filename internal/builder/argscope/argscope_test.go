package argscope

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/dockerfile"
)

func parse(t *testing.T, text string) *dockerfile.File {
	t.Helper()
	f, err := dockerfile.Parse(strings.NewReader(text), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestScopes(t *testing.T) {
	f := parse(t, "ARG V=1\nARG G=g\nARG UNSET\nFROM img:$V\nARG G\nARG L=l X\nRUN x\n")
	b, err := New(map[string]string{"V": "2", "NOTUSED": "n", "HTTP_PROXY": "p", "X": "bx"}, f.MetaArgs)
	if err != nil {
		t.Fatal(err)
	}
	look := b.Global()
	if v, _ := look("V"); v != "2" {
		t.Errorf("global V = %q, want the --build-arg", v)
	}
	if _, ok := look("UNSET"); ok {
		t.Error("a global ARG without value is set")
	}
	if _, ok := look("TARGETOS"); !ok {
		t.Error("no platform ARGs")
	}
	s := b.Stage()
	if _, ok := s.Lookup(nil)("G"); ok {
		t.Error("a global ARG is visible in a stage before its redeclaration")
	}
	var texts []string
	for _, ins := range f.Stages[0].Instructions[:2] {
		texts = append(texts, s.Declare(ins.(*dockerfile.Arg)))
	}
	if want := []string{"ARG G=g", "ARG L=l X=bx"}; !reflect.DeepEqual(texts, want) {
		t.Errorf("histories = %q, want %q", texts, want)
	}
	env := []string{"L=fromenv"}
	if v, _ := s.Lookup(env)("L"); v != "fromenv" {
		t.Errorf("ENV does not shadow the ARG: %q", v)
	}
	runEnv := s.Env(env)
	slices.Sort(runEnv)
	if want := []string{"G=g", "HTTP_PROXY=p", "L=fromenv", "X=bx"}; !reflect.DeepEqual(runEnv, want) {
		t.Errorf("RUN env = %q, want %q", runEnv, want)
	}
	if got := s.RunText([]string{"/bin/sh", "-c", "x"}); got != "|3 G=g L=l X=bx /bin/sh -c x" {
		t.Errorf("RunText = %q", got)
	}
	if got := b.Unused(); !reflect.DeepEqual(got, []string{"NOTUSED"}) {
		t.Errorf("Unused = %q", got)
	}
}

func TestEnvValue(t *testing.T) {
	env := []string{"A=1", "B", "A=2"}
	if v, ok := EnvValue(env, "A"); !ok || v != "2" {
		t.Errorf("A = %q %v", v, ok)
	}
	if v, ok := EnvValue(env, "B"); !ok || v != "" {
		t.Errorf("B = %q %v", v, ok)
	}
	if _, ok := EnvValue(env, "C"); ok {
		t.Error("C found")
	}
}
