package dockerfile

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenEnv is the variable set every expandable instruction of a good
// case is expanded with.
var goldenEnv = map[string]string{
	"V":     "value",
	"EMPTY": "",
	"SPACE": "a b",
	"DIR":   "/srv/app",
	"PORT":  "8080",
	"USER":  "app",
	"SIG":   "SIGINT",
	"BASE":  "busybox:1.36",
	"UID":   "1000",
}

func dumpWithExpansion(f *File) string {
	var b strings.Builder
	b.WriteString(f.Dump())
	b.WriteString("--- expanded with the golden env\n")
	one := func(ins Instruction) {
		x, used, err := Expand(ins, MapLookup(goldenEnv))
		if err != nil {
			fmt.Fprintf(&b, "%d: error: %v\n", ins.Loc().Start, err)
			return
		}
		fmt.Fprintf(&b, "%d: %s used=%v\n", ins.Loc().Start, Format(x), used)
	}
	for _, a := range f.MetaArgs {
		one(a)
	}
	for _, s := range f.Stages {
		one(s.From)
		for _, ins := range s.Instructions {
			one(ins)
		}
	}
	return b.String()
}

func TestGoodGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("only %d good cases", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			f, err := Parse(fh, "Dockerfile")
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := dumpWithExpansion(f)
			golden := strings.TrimSuffix(path, ".Dockerfile") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("dump differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestBadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("only %d bad cases", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			_, err = Parse(fh, "Dockerfile")
			if err == nil {
				t.Fatalf("parse succeeded, want an error")
			}
			var de *Error
			if !errors.As(err, &de) || !errdefs.IsInvalidArgument(err) {
				t.Errorf("error %v is not a classed *Error", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".Dockerfile") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("error differs from %s:\n got: %s want: %s", golden, got, want)
			}
		})
	}
}
