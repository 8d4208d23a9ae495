package argscope

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hoistproject/hoist/internal/dockerfile"
)

// Build is the build-wide state of ARGs: the --build-arg values, the
// global scope (the ARGs before the first FROM and the platform ARGs) and
// which names an ARG declared (consumed). It is safe for concurrent stages.
type Build struct {
	values map[string]string // --build-arg
	global map[string]string

	mu   sync.Mutex
	used map[string]bool
}

// New evaluates the ARGs before the first FROM (meta) with the --build-arg
// values.
func New(values map[string]string, meta []*dockerfile.Arg) (*Build, error) {
	b := &Build{
		values: values,
		global: dockerfile.PlatformArgs(dockerfile.HostPlatform(), dockerfile.HostPlatform()),
		used:   map[string]bool{},
	}
	for _, a := range meta {
		x, _, err := dockerfile.Expand(a, dockerfile.MapLookup(b.global))
		if err != nil {
			return nil, err
		}
		for _, d := range x.(*dockerfile.Arg).Args {
			b.markUsed(d.Name)
			if v, ok := values[d.Name]; ok {
				b.global[d.Name] = v
				continue
			}
			if d.Default != nil {
				b.global[d.Name] = *d.Default
			} else {
				delete(b.global, d.Name) // declared without value: unset unless given
			}
		}
	}
	return b, nil
}

// Global is the lookup of the global scope (for FROM).
func (b *Build) Global() dockerfile.Lookup { return dockerfile.MapLookup(b.global) }

func (b *Build) markUsed(name string) {
	b.mu.Lock()
	b.used[name] = true
	b.mu.Unlock()
}

// Unused returns, sorted, the --build-arg names no ARG declared (the
// predefined ones excepted): docker warns about them.
func (b *Build) Unused() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var unused []string
	for k := range b.values {
		if !b.used[k] && !dockerfile.IsPredefinedArg(k) {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	return unused
}

// Scope is the ARGs of one stage.
type Scope struct {
	b     *Build
	vals  map[string]string // declared names with a value
	names []string          // declared names in order (for RUN's "|N a=b")
}

// Stage returns the empty scope of a new stage.
func (b *Build) Stage() *Scope { return &Scope{b: b, vals: map[string]string{}} }

// Declare declares the ARGs of an expanded ARG instruction, each valued by
// its --build-arg, else its default, else the global ARG of its name, else
// unset, and returns the instruction's history text ("ARG a=b c").
func (s *Scope) Declare(a *dockerfile.Arg) string {
	var parts []string
	for _, d := range a.Args {
		s.b.markUsed(d.Name)
		val, has := "", false
		if v, ok := s.b.values[d.Name]; ok {
			val, has = v, true
		} else if d.Default != nil {
			val, has = *d.Default, true
		} else if v, ok := s.b.global[d.Name]; ok {
			val, has = v, true
		}
		if !slices.Contains(s.names, d.Name) {
			s.names = append(s.names, d.Name)
		}
		if has {
			s.vals[d.Name] = val
			parts = append(parts, d.Name+"="+val)
		} else {
			delete(s.vals, d.Name)
			parts = append(parts, d.Name)
		}
	}
	return "ARG " + strings.Join(parts, " ")
}

// Lookup resolves a variable for expansion in a stage whose config has
// env: ENV first, then the stage's ARGs.
func (s *Scope) Lookup(env []string) dockerfile.Lookup {
	return func(name string) (string, bool) {
		if v, ok := EnvValue(env, name); ok {
			return v, true
		}
		v, ok := s.vals[name]
		return v, ok
	}
}

// Env is the environment of a RUN step in a stage whose config has env:
// env plus the ARGs in scope that no ENV shadows, plus the proxy
// --build-args (declared or not).
func (s *Scope) Env(env []string) []string {
	env = append([]string(nil), env...)
	for _, k := range s.names {
		if _, ok := EnvValue(env, k); ok {
			continue
		}
		if v, ok := s.vals[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range s.b.values {
		if dockerfile.IsProxyArg(k) {
			if _, ok := EnvValue(env, k); !ok {
				env = append(env, k+"="+v)
			}
		}
	}
	return env
}

// RunText is the command text BuildKit records for a RUN of argv: the
// ARGs in scope as "|N k=v ..." before the argv.
func (s *Scope) RunText(argv []string) string {
	var parts []string
	for _, k := range s.names {
		if v, ok := s.vals[k]; ok {
			parts = append(parts, k+"="+v)
		} else {
			parts = append(parts, k+"=")
		}
	}
	if len(parts) > 0 {
		parts = append([]string{fmt.Sprintf("|%d", len(parts))}, parts...)
	}
	return strings.Join(append(parts, argv...), " ")
}

// EnvValue returns the value of key in KEY=VALUE pairs (the last one).
func EnvValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}
