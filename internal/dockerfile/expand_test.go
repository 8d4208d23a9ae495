package dockerfile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestExpandWordForms(t *testing.T) {
	env := MapLookup(map[string]string{"V": "val", "E": ""})
	for _, c := range []struct {
		in, want string
		used     []string
	}{
		{"$V", "val", []string{"V"}},
		{"${V}x", "valx", []string{"V"}},
		{"${U:-def}", "def", []string{"U"}},
		{"${E:-def}", "def", []string{"E"}},
		{"${E-def}", "", []string{"E"}},
		{"${V:+alt}", "alt", []string{"V"}},
		{"${E:+alt}", "", []string{"E"}},
		{"${E+alt}", "alt", []string{"E"}},
		{"${U+alt}", "", []string{"U"}},
		{`\$V`, "$V", []string{}},
		{`'$V'`, "$V", []string{}},
		{`"$V"`, "val", []string{"V"}},
		{"plain", "plain", []string{}},
	} {
		got, used, err := ExpandWord(c.in, '\\', env)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got != c.want || !reflect.DeepEqual(used, c.used) {
			t.Errorf("%q -> %q %v, want %q %v", c.in, got, used, c.want, c.used)
		}
	}
	got, _, err := ExpandWord("a`$V", '`', env)
	if err != nil || got != "a$V" {
		t.Errorf("backtick escape: %q %v", got, err)
	}
}

func TestExpandDoesNotMutate(t *testing.T) {
	f := mustParse(t, "FROM a\nCOPY $V /d/$V\nENV A=$V\nRUN --mount=type=cache,target=$V echo $V\n")
	before := f.Dump()
	for _, ins := range f.Stages[0].Instructions {
		if _, _, err := Expand(ins, MapLookup(map[string]string{"V": "x"})); err != nil {
			t.Fatal(err)
		}
	}
	if after := f.Dump(); after != before {
		t.Fatalf("Expand changed the parsed file:\n%s\n%s", before, after)
	}
}

func TestExpandRunOnlyFlags(t *testing.T) {
	f := mustParse(t, "FROM a\nRUN --mount=type=cache,target=${D},uid=${UID} --network=$NET echo $D\n")
	run := f.Stages[0].Instructions[0].(*Run)
	x, used, err := Expand(run, MapLookup(map[string]string{"D": "/c", "UID": "7", "NET": "none"}))
	if err != nil {
		t.Fatal(err)
	}
	r := x.(*Run)
	if r.Args[0] != "echo $D" {
		t.Errorf("RUN command was expanded: %q", r.Args[0])
	}
	if r.Mounts[0].Target != "/c" || r.Mounts[0].ID != "/c" || *r.Mounts[0].UID != 7 || r.Network != "none" {
		t.Errorf("mount %+v network %q", r.Mounts[0], r.Network)
	}
	if !reflect.DeepEqual(used, []string{"D", "NET", "UID"}) {
		t.Errorf("used %v", used)
	}
	// Validation is deferred to expansion for values with variables.
	_, _, err = Expand(run, MapLookup(map[string]string{"D": "/c", "UID": "x", "NET": "none"}))
	if err == nil || err.Error() != "Dockerfile:2: RUN: invalid value x for uid" {
		t.Errorf("bad uid after expansion: %v", err)
	}
	_, _, err = Expand(run, MapLookup(map[string]string{"D": "/c", "UID": "1", "NET": "bridge"}))
	if err == nil || !strings.Contains(err.Error(), `invalid network mode "bridge"`) {
		t.Errorf("bad network after expansion: %v", err)
	}
}

func TestExpandArgSequential(t *testing.T) {
	f := mustParse(t, "FROM a\nARG A=1 B=${A}2 C\n")
	arg := f.Stages[0].Instructions[0]
	x, used, err := Expand(arg, MapLookup(map[string]string{"C": "outer"}))
	if err != nil {
		t.Fatal(err)
	}
	a := x.(*Arg)
	if *a.Args[1].Default != "12" || a.Args[2].Default != nil {
		t.Errorf("args %+v", a.Args)
	}
	if !reflect.DeepEqual(used, []string{"A"}) {
		t.Errorf("used %v", used)
	}
}

func TestExpandFromGlobalArgs(t *testing.T) {
	f := mustParse(t, "ARG IMG=busybox\nARG PLAT\nFROM --platform=$PLAT ${IMG}:1\n")
	x, used, err := Expand(f.Stages[0].From, MapLookup(map[string]string{"IMG": "alpine", "PLAT": "linux/amd64"}))
	if err != nil {
		t.Fatal(err)
	}
	from := x.(*From)
	if from.Image != "alpine:1" || from.Platform != "linux/amd64" || !reflect.DeepEqual(used, []string{"IMG", "PLAT"}) {
		t.Errorf("from %+v used %v", from, used)
	}
	_, _, err = Expand(mustParse(t, "FROM $NOTHING\n").Stages[0].From, MapLookup(nil))
	if err == nil || err.Error() != "Dockerfile:1: FROM: base name ($NOTHING) should not be blank" {
		t.Errorf("blank base: %v", err)
	}
}

func TestExpandNotExpanded(t *testing.T) {
	f := mustParse(t, "FROM a\nCMD echo $V\nENTRYPOINT [\"$V\"]\nSHELL [\"$V\"]\nHEALTHCHECK CMD $V\nMAINTAINER $V\n")
	for _, ins := range f.Stages[0].Instructions {
		x, used, err := Expand(ins, MapLookup(map[string]string{"V": "x"}))
		if err != nil {
			t.Fatal(err)
		}
		if Format(x) != Format(ins) || len(used) != 0 {
			t.Errorf("%s was expanded: %s used %v", ins.Keyword(), Format(x), used)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	for _, c := range []struct {
		src, want string
	}{
		{"FROM a\nENV A=${B\n", `Dockerfile:2: ENV: failed to process "${B": syntax error: missing '}'`},
		{"FROM a\nEXPOSE $P\n", "Dockerfile:2: EXPOSE: invalid containerPort: http"},
		{"FROM a\nEXPOSE 80/icmp\n", "Dockerfile:2: EXPOSE: invalid proto: icmp"},
		{"FROM a\nSTOPSIGNAL $P\n", "Dockerfile:2: STOPSIGNAL: invalid signal: http"},
		{"FROM a\nSTOPSIGNAL 99\n", "Dockerfile:2: STOPSIGNAL: invalid signal: 99"},
		{"FROM a\nVOLUME $EMPTY\n", "Dockerfile:2: VOLUME specified can not be an empty string"},
		{"FROM a\nCOPY ${P:?required} /x\n", `Dockerfile:2: COPY: failed to process "${P:?required}": P: required`},
	} {
		f := mustParse(t, c.src)
		_, _, err := Expand(f.Stages[0].Instructions[0], MapLookup(map[string]string{"P": "http", "EMPTY": ""}))
		if c.want == `Dockerfile:2: COPY: failed to process "${P:?required}": P: required` {
			_, _, err = Expand(f.Stages[0].Instructions[0], MapLookup(nil))
		}
		if err == nil || err.Error() != c.want {
			t.Errorf("%q:\n got  %v\n want %s", c.src, err, c.want)
			continue
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("%v not classed", err)
		}
	}
}

func TestSliceLookupLaterWins(t *testing.T) {
	l := SliceLookup([]string{"A=1", "B=2", "A=3"})
	if v, ok := l("A"); !ok || v != "3" {
		t.Errorf("A=%q %v", v, ok)
	}
	if _, ok := l("C"); ok {
		t.Errorf("C found")
	}
}

func TestExposedPorts(t *testing.T) {
	got, err := ExposedPorts([]string{"80", "53/UDP", "8000-8002", "80/tcp", "0.0.0.0:8080:90", "7/sctp"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp", "90/tcp", "7/sctp"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"x", "80/icmp", "90-80", "70000", ""} {
		if _, err := ExposedPorts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestExpandCopyAddFlags(t *testing.T) {
	f := mustParse(t, "FROM a\nCOPY --chown=$U:$G --chmod=${M} --exclude=$X $S /d/\nADD --checksum=$SUM --chown=${U} $URL /x\n")
	env := MapLookup(map[string]string{"U": "1000", "G": "50", "M": "0750", "X": "keep", "S": "src", "SUM": "sha256:ab", "URL": "https://e.x/f"})
	x, used, err := Expand(f.Stages[0].Instructions[0], env)
	if err != nil {
		t.Fatal(err)
	}
	c := x.(*Copy)
	if c.Chown != "1000:50" || c.Chmod != "0750" || c.Sources[0] != "src" || c.Exclude[0] != "$X" {
		t.Errorf("copy %+v", c)
	}
	if !reflect.DeepEqual(used, []string{"G", "M", "S", "U"}) {
		t.Errorf("copy used %v", used)
	}
	x, used, err = Expand(f.Stages[0].Instructions[1], env)
	if err != nil {
		t.Fatal(err)
	}
	a := x.(*Add)
	if a.Checksum != "sha256:ab" || a.Chown != "1000" || a.Sources[0] != "https://e.x/f" {
		t.Errorf("add %+v", a)
	}
	if !reflect.DeepEqual(used, []string{"SUM", "U", "URL"}) {
		t.Errorf("add used %v", used)
	}
}
