package dockerfile

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(src), "Dockerfile")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

func parseErr(t *testing.T, src string) *Error {
	t.Helper()
	_, err := Parse(strings.NewReader(src), "Dockerfile")
	if err == nil {
		t.Fatalf("parse of %q succeeded, want an error", src)
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("error %v is not classed InvalidArgument", err)
	}
	return de
}

func TestSourceAndLocation(t *testing.T) {
	src := "FROM busybox\n# c\nRUN echo a \\\n  && echo b\nCOPY <<EOF /x\nhello\nEOF\nENV A=1\n"
	f := mustParse(t, src)
	ins := f.Stages[0].Instructions
	if len(ins) != 3 {
		t.Fatalf("got %d instructions", len(ins))
	}
	if got, want := ins[0].Loc(), (Location{3, 4}); got != want {
		t.Errorf("RUN location %v, want %v", got, want)
	}
	if got, want := ins[0].Source(), "RUN echo a \\\n  && echo b"; got != want {
		t.Errorf("RUN source %q, want %q", got, want)
	}
	if got, want := ins[0].Original(), "RUN echo a   && echo b"; got != want {
		t.Errorf("RUN original %q, want %q", got, want)
	}
	if got, want := ins[1].Source(), "COPY <<EOF /x\nhello\nEOF"; got != want {
		t.Errorf("COPY source %q, want %q", got, want)
	}
	if got, want := ins[1].Loc(), (Location{5, 7}); got != want {
		t.Errorf("COPY location %v, want %v", got, want)
	}
	if ins[2].Loc().Start != 8 || ins[2].Keyword() != "ENV" {
		t.Errorf("ENV at %v %s", ins[2].Loc(), ins[2].Keyword())
	}
}

func TestStageIndexAndNames(t *testing.T) {
	f := mustParse(t, "ARG X\nFROM a AS One\nRUN x\nFROM b\nFROM one AS three\n")
	if len(f.MetaArgs) != 1 || len(f.Stages) != 3 {
		t.Fatalf("meta %d stages %d", len(f.MetaArgs), len(f.Stages))
	}
	for i, s := range f.Stages {
		if s.Index != i {
			t.Errorf("stage %d has index %d", i, s.Index)
		}
	}
	if f.Stages[0].Name != "one" || f.Stages[1].Name != "" || f.Stages[2].From.Image != "one" {
		t.Errorf("names: %q %q %q", f.Stages[0].Name, f.Stages[1].Name, f.Stages[2].From.Image)
	}
}

func TestErrorsNameFileLineInstruction(t *testing.T) {
	for _, c := range []struct {
		src, want, instr string
	}{
		{"FROM a\nRUN x\nFORM b\n", "Dockerfile:3: unknown instruction: FORM", ""},
		{"FROM a\n\nENV =x\n", "Dockerfile:3: ENV names can not be blank", "ENV"},
		{"FROM a\nCOPY --bogus x y\n", "Dockerfile:2: COPY: unknown flag: --bogus", "COPY"},
		{"FROM a\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument", "EXPOSE"},
		{"FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument", "WORKDIR"},
		{"FROM a\nRUN --mount=type=cache x\n", "Dockerfile:2: RUN: mount type=cache requires a target", "RUN"},
		{"FROM a\nRUN --mount=type=cache,target=/x,sharing=weird x\n", `Dockerfile:2: RUN: unsupported sharing value "weird"`, "RUN"},
		{"FROM a\nRUN --mount=type=bind,target=/x,uid=1 x\n", `Dockerfile:2: RUN: uid not allowed for "bind" type mounts`, "RUN"},
		{"FROM a\nRUN --mount=type=tmpfs,target=/x,size=lots x\n", `Dockerfile:2: RUN: invalid value for size: lots`, "RUN"},
		{"FROM a\nRUN --security=root x\n", `Dockerfile:2: RUN: security "root" is not valid`, "RUN"},
		{"FROM a\nHEALTHCHECK --bogus=1 CMD x\n", "Dockerfile:2: HEALTHCHECK: unknown flag: --bogus", "HEALTHCHECK"},
		{"FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD", "HEALTHCHECK"},
		{"FROM a\nADD --from=x a b\n", "Dockerfile:2: ADD: unknown flag: --from", "ADD"},
		{"FROM a\nCOPY --checksum=x a b\n", "Dockerfile:2: COPY: unknown flag: --checksum", "COPY"},
		{"FROM a\nENV --x=1 A=b\n", "Dockerfile:2: ENV: unknown flag: --x", "ENV"},
		{"FROM a\nRUN\n", "Dockerfile:2: RUN requires at least one argument", "RUN"},
	} {
		e := parseErr(t, c.src)
		if e.Error() != c.want {
			t.Errorf("%q:\n got  %s\n want %s", c.src, e.Error(), c.want)
		}
		if e.Instruction != c.instr || e.File != "Dockerfile" {
			t.Errorf("%q: instruction %q file %q", c.src, e.Instruction, e.File)
		}
	}
}

func TestNamedFileInErrors(t *testing.T) {
	_, err := Parse(strings.NewReader("FROM a\nBOGUS\n"), "build/Dockerfile.dev")
	if err == nil || err.Error() != "build/Dockerfile.dev:2: unknown instruction: BOGUS" {
		t.Fatalf("got %v", err)
	}
}

func TestLongLineIsAClearError(t *testing.T) {
	src := "FROM a\nRUN echo " + strings.Repeat("x", 70000) + "\n"
	e := parseErr(t, src)
	if !strings.Contains(e.Error(), "dockerfile line greater than max allowed size") {
		t.Fatalf("got %v", e)
	}
}

func TestBOMIsIgnored(t *testing.T) {
	f := mustParse(t, "\xef\xbb\xbfFROM busybox\n")
	if f.Stages[0].From.Image != "busybox" {
		t.Fatalf("image %q", f.Stages[0].From.Image)
	}
}

func TestTenThousandLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("FROM busybox\n")
	kinds := []string{
		"RUN echo %d && \\\n    echo continued\n",
		"ENV K%d=v%d\n",
		"COPY src%d /dst/\n",
		"LABEL l%d=\"x\"\n",
		"RUN <<EOF\necho %d\nEOF\n",
	}
	n := 0
	for lines := 1; lines < 10000; n++ {
		k := kinds[n%len(kinds)]
		s := strings.ReplaceAll(k, "%d", fmt.Sprint(n))
		b.WriteString(s)
		lines += strings.Count(s, "\n")
	}
	f := mustParse(t, b.String())
	if got := len(f.Stages[0].Instructions); got != n {
		t.Fatalf("got %d instructions, want %d", got, n)
	}
	last := f.Stages[0].Instructions[n-1]
	if last.Loc().End < 10000 {
		t.Fatalf("last instruction ends on line %d", last.Loc().End)
	}
	// Expansion of every instruction stays cheap too.
	for _, ins := range f.Stages[0].Instructions {
		if _, _, err := Expand(ins, MapLookup(nil)); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkParse10000Lines(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("FROM busybox\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "RUN echo %d\n", i)
	}
	src := sb.String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(strings.NewReader(src), "Dockerfile"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOnbuildTrigger(t *testing.T) {
	f := mustParse(t, "FROM a\nONBUILD   COPY --chown=1:1 . /app\n")
	ob := f.Stages[0].Instructions[0].(*Onbuild)
	if ob.Expression != "COPY --chown=1:1 . /app" {
		t.Errorf("expression %q", ob.Expression)
	}
	c, ok := ob.Trigger.(*Copy)
	if !ok || c.Chown != "1:1" || c.Dest != "/app" {
		t.Fatalf("trigger %#v", ob.Trigger)
	}
	// ONBUILD is never expanded by the builder.
	x, used, err := Expand(ob, MapLookup(map[string]string{"A": "b"}))
	if err != nil || len(used) != 0 || x.(*Onbuild).Expression != ob.Expression {
		t.Fatalf("expand: %v %v", err, used)
	}
}

func TestWarningsForEmptyContinuation(t *testing.T) {
	f := mustParse(t, "FROM a\nRUN echo a \\\n\n  b\n")
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].Msg, "Empty continuation line") {
		t.Fatalf("warnings %v", f.Warnings)
	}
}

func TestReferences(t *testing.T) {
	f := mustParse(t, "FROM a AS x\nFROM b\nCOPY --from=x /a /b\nRUN --mount=from=img:1,target=/m true\nCOPY --from=1 /c /d\n")
	got := f.Stages[1].References()
	want := []string{"x", "img:1", "1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("references %v, want %v", got, want)
	}
}

func TestFileLookupStage(t *testing.T) {
	f := mustParse(t, "FROM a AS build\nFROM b\n")
	if s, ok := f.Stage("BUILD"); !ok || s.Index != 0 {
		t.Errorf("by name: %v %v", s, ok)
	}
	if s, ok := f.Stage("1"); !ok || s.Index != 1 {
		t.Errorf("by index: %v %v", s, ok)
	}
	if _, ok := f.Stage("2"); ok {
		t.Errorf("index 2 found")
	}
	if _, ok := f.Stage("nope"); ok {
		t.Errorf("unknown name found")
	}
}

func TestPredefinedArgs(t *testing.T) {
	for _, n := range []string{"HTTP_PROXY", "https_proxy", "NO_PROXY", "all_proxy", "FTP_PROXY"} {
		if !IsProxyArg(n) || !IsPredefinedArg(n) {
			t.Errorf("%s not a proxy arg", n)
		}
	}
	if IsProxyArg("Http_Proxy") || IsPredefinedArg("HOME") {
		t.Errorf("false positive")
	}
	args := PlatformArgs(ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, ocispec.Platform{OS: "linux", Architecture: "amd64"})
	want := map[string]string{
		"TARGETPLATFORM": "linux/arm/v7", "TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7",
		"BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDARCH": "amd64", "BUILDVARIANT": "",
	}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("platform args %v", args)
	}
	for k := range want {
		if !IsPlatformArg(k) {
			t.Errorf("%s not a platform arg", k)
		}
	}
	if HostPlatform().OS == "" {
		t.Errorf("no host platform")
	}
}

func TestParseTriggerRoundTrip(t *testing.T) {
	f := mustParse(t, "FROM a\nONBUILD RUN <<EOF\necho $HOME\nEOF\nONBUILD COPY --chown=1 . /app\n")
	for _, ins := range f.Stages[0].Instructions {
		ob := ins.(*Onbuild)
		tr, err := ParseTrigger(ob.Expression, "base ONBUILD")
		if err != nil {
			t.Fatalf("%q: %v", ob.Expression, err)
		}
		if Format(tr) != Format(ob.Trigger) {
			t.Errorf("round trip:\n got  %s\n want %s", Format(tr), Format(ob.Trigger))
		}
	}
	for expr, want := range map[string]string{
		"ONBUILD RUN x": "img:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
		"FROM x":        "img:1: FROM isn't allowed as an ONBUILD trigger",
		"BOGUS x":       "img:1: unknown instruction: BOGUS",
		"RUN a\nRUN b":  "img:1: expected one instruction, found 2",
		"":              "img:1: empty instruction",
		"COPY onlyone":  "img:1: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
	} {
		_, err := ParseTrigger(expr, "img")
		if err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", expr, err, want)
		}
	}
	ins, err := ParseInstruction(`LABEL "a b"=c`, "--label")
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := Expand(ins, nil)
	if err != nil || Format(x) != `LABEL labels=["a b"="c"]` {
		t.Errorf("synthesised label: %v %s", err, Format(x))
	}
}

func TestStageNameAndOnbuildHelpers(t *testing.T) {
	for n, want := range map[string]bool{"build": true, "b-1_x.y": true, "": false, "1st": false, "-x": false, "Build": false, "a b": false} {
		if got := validStageName(n); got != want {
			t.Errorf("validStageName(%q) = %v", n, got)
		}
	}
	for in, want := range map[string]string{"ONBUILD RUN x": "RUN x", "  onbuild\tCOPY a b": "COPY a b", "RUN y": "RUN y"} {
		if got := trimOnbuild(in); got != want {
			t.Errorf("trimOnbuild(%q) = %q, want %q", in, got, want)
		}
	}
}
