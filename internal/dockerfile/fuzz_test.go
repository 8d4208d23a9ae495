package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse or Expand panic, and that
// every error is an *Error naming the file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.Dockerfile")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		df, err := Parse(strings.NewReader(src), "Dockerfile")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Dockerfile") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		env := MapLookup(map[string]string{"V": "x"})
		for _, a := range df.MetaArgs {
			Expand(a, env)
		}
		for _, s := range df.Stages {
			Expand(s.From, env)
			for _, ins := range s.Instructions {
				Expand(ins, env)
				Format(ins)
			}
		}
	})
}
