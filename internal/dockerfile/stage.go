package dockerfile

import (
	"strconv"
	"strings"
)

// Stage finds a stage by name (case-insensitive) or by index ("0", "1"...).
func (f *File) Stage(ref string) (*Stage, bool) {
	name := strings.ToLower(ref)
	for _, s := range f.Stages {
		if s.Name != "" && s.Name == name {
			return s, true
		}
	}
	if i, err := strconv.Atoi(ref); err == nil && i >= 0 && i < len(f.Stages) {
		return f.Stages[i], true
	}
	return nil, false
}

// References lists, in order, the raw `--from` values of the stage's COPY
// instructions and RUN --mount options: stage names, stage indexes or image
// references the stage depends on (besides its FROM image). The builder
// resolves them into the stage DAG.
func (s *Stage) References() []string {
	var out []string
	for _, ins := range s.Instructions {
		switch x := ins.(type) {
		case *Copy:
			if x.From != "" {
				out = append(out, x.From)
			}
		case *Run:
			for _, m := range x.Mounts {
				if m.From != "" {
					out = append(out, m.From)
				}
			}
		}
	}
	return out
}
