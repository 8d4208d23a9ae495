package dockerfile

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/hoistproject/hoist/internal/signals"
)

// Lookup returns the value of a build variable (an ARG or ENV in scope) and
// whether it is set.
type Lookup func(name string) (string, bool)

// MapLookup is a Lookup over a map.
func MapLookup(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// SliceLookup is a Lookup over KEY=VALUE pairs; later pairs win.
func SliceLookup(env []string) Lookup {
	return func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if name, v, _ := strings.Cut(env[i], "="); name == k {
				return v, true
			}
		}
		return "", false
	}
}

type lookupEnv struct {
	lookup Lookup
}

func (l lookupEnv) Get(k string) (string, bool) {
	if l.lookup == nil {
		return "", false
	}
	return l.lookup(k)
}
func (l lookupEnv) Keys() []string { return nil }

// expander applies the shell lexer to words, collecting the names used.
type expander struct {
	lex  *shell.Lex
	raw  *shell.Lex // heredoc contents: quotes are kept
	env  lookupEnv
	used map[string]struct{}
}

func newExpander(escape rune, lookup Lookup) *expander {
	if escape == 0 {
		escape = '\\'
	}
	raw := shell.NewLex('\\')
	raw.SkipProcessQuotes = true
	return &expander{lex: shell.NewLex(escape), raw: raw, env: lookupEnv{lookup}, used: map[string]struct{}{}}
}

func (e *expander) record(res shell.ProcessWordResult) {
	for k := range res.Matched {
		e.used[k] = struct{}{}
	}
	for k := range res.Unmatched {
		e.used[k] = struct{}{}
	}
}

func (e *expander) word(s string) (string, error) {
	res, err := e.lex.ProcessWordWithMatches(s, e.env)
	e.record(res)
	return res.Result, lexError(err)
}

func (e *expander) rawWord(s string) (string, error) {
	res, err := e.raw.ProcessWordWithMatches(s, e.env)
	e.record(res)
	return res.Result, lexError(err)
}

// lexError rewords the lexer's message for an unterminated "${NAME", which
// it reports as a modifier made of the EOF rune.
func lexError(err error) error {
	if err == nil {
		return nil
	}
	const eofModifier = "unsupported modifier (\uFFFD) in substitution"
	if msg := err.Error(); strings.Contains(msg, eofModifier) {
		return errors.New(strings.Replace(msg, eofModifier, "syntax error: missing '}'", 1))
	}
	return err
}

func (e *expander) words(in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, s := range in {
		v, err := e.word(s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (e *expander) names() []string {
	out := make([]string, 0, len(e.used))
	for k := range e.used {
		if isName(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// isName reports whether s can name a variable (not $1, $$, $@ ...).
func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// ExpandWord expands one word with the shell lexer (quotes removed, escapes
// processed, $V ${V} ${V:-x} ${V:+x} ${V-x} ${V+x} ...) and returns the
// sorted names of the variables it referenced, set or not.
func ExpandWord(word string, escape rune, lookup Lookup) (string, []string, error) {
	e := newExpander(escape, lookup)
	v, err := e.word(word)
	return v, e.names(), err
}

// Expand returns a copy of ins with variables expanded in exactly the
// fields docker expands, and the sorted names of the variables referenced
// (set or unset; for cache keys). The input is not modified.
//
//   - FROM: image and --platform (call it with the global ARGs only)
//   - ENV, LABEL: keys and values
//   - ADD, COPY: sources, destination, --chown, --chmod, --checksum, and the
//     content of heredoc sources with an unquoted delimiter (quotes kept)
//   - EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL: their arguments
//   - ARG: defaults, each seeing the earlier names of the same instruction
//   - RUN: the values of --mount (except from=) and --network, not the command
//   - CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: unchanged
//
// EXPOSE ports and STOPSIGNAL are validated after expansion.
func Expand(ins Instruction, lookup Lookup) (Instruction, []string, error) {
	b := ins.base()
	e := newExpander(b.Escape, lookup)
	out, err := expand(e, ins, lookup)
	if err != nil {
		return nil, nil, wrapLoc(b, err)
	}
	return out, e.names(), nil
}

func wrapLoc(b *Base, err error) error {
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	return newError(b.file, b.Location.Start, b.keyword, err)
}

func expand(e *expander, ins Instruction, lookup Lookup) (Instruction, error) {
	var err error
	switch x := ins.(type) {
	case *From:
		c := *x
		if c.Image, err = e.word(x.Image); err != nil {
			return nil, err
		}
		if c.Image == "" {
			return nil, errorf("base name (%s) should not be blank", x.Image)
		}
		if x.Platform != "" {
			if c.Platform, err = e.word(x.Platform); err != nil {
				return nil, err
			}
			if c.Platform == "" {
				return nil, errorf("empty platform value from expression %s", x.Platform)
			}
		}
		return &c, nil
	case *Env:
		c := *x
		c.Vars, err = expandKVs(e, x.Vars)
		return &c, err
	case *Label:
		c := *x
		c.Labels, err = expandKVs(e, x.Labels)
		return &c, err
	case *Copy:
		c := *x
		c.Exclude = slices.Clone(x.Exclude)
		if c.Sources, err = e.words(x.Sources); err != nil {
			return nil, err
		}
		if c.Dest, err = e.word(x.Dest); err != nil {
			return nil, err
		}
		if c.Chown, err = e.word(x.Chown); err != nil {
			return nil, err
		}
		if c.Chmod, err = e.word(x.Chmod); err != nil {
			return nil, err
		}
		c.Inline, err = expandInline(e, x.Inline)
		return &c, err
	case *Add:
		c := *x
		c.Exclude = slices.Clone(x.Exclude)
		if c.Sources, err = e.words(x.Sources); err != nil {
			return nil, err
		}
		if c.Dest, err = e.word(x.Dest); err != nil {
			return nil, err
		}
		if c.Chown, err = e.word(x.Chown); err != nil {
			return nil, err
		}
		if c.Chmod, err = e.word(x.Chmod); err != nil {
			return nil, err
		}
		if c.Checksum, err = e.word(x.Checksum); err != nil {
			return nil, err
		}
		c.Inline, err = expandInline(e, x.Inline)
		return &c, err
	case *Expose:
		c := *x
		if c.Ports, err = e.words(x.Ports); err != nil {
			return nil, err
		}
		for _, p := range c.Ports {
			if err := checkPort(p); err != nil {
				return nil, err
			}
		}
		return &c, nil
	case *Volume:
		c := *x
		if c.Paths, err = e.words(x.Paths); err != nil {
			return nil, err
		}
		for _, p := range c.Paths {
			if strings.TrimSpace(p) == "" {
				return nil, errorf("VOLUME specified can not be an empty string")
			}
		}
		return &c, nil
	case *User:
		c := *x
		c.User, err = e.word(x.User)
		return &c, err
	case *Workdir:
		c := *x
		c.Path, err = e.word(x.Path)
		return &c, err
	case *StopSignal:
		c := *x
		if c.Signal, err = e.word(x.Signal); err != nil {
			return nil, err
		}
		if _, ok := signals.Parse(c.Signal); !ok {
			return nil, errorf("invalid signal: %s", c.Signal)
		}
		return &c, nil
	case *Arg:
		c := *x
		c.Args = make([]ArgDef, len(x.Args))
		local := map[string]string{}
		e.env = lookupEnv{func(k string) (string, bool) {
			if v, ok := local[k]; ok {
				return v, true
			}
			if lookup == nil {
				return "", false
			}
			return lookup(k)
		}}
		for i, a := range x.Args {
			c.Args[i] = ArgDef{Name: a.Name}
			if a.Default == nil {
				if v, ok := e.env.Get(a.Name); ok {
					local[a.Name] = v
				}
				continue
			}
			v, err := e.word(*a.Default)
			if err != nil {
				return nil, err
			}
			c.Args[i].Default = &v
			local[a.Name] = v
		}
		return &c, nil
	case *Run:
		c := *x
		c.Args = slices.Clone(x.Args)
		c.Mounts = nil
		for _, spec := range x.MountSpecs {
			m, err := parseMount(spec, e.word, false)
			if err != nil {
				return nil, err
			}
			c.Mounts = append(c.Mounts, m)
		}
		if c.Network, err = e.word(x.Network); err != nil {
			return nil, err
		}
		if err := checkNetwork(c.Network, false); err != nil {
			return nil, err
		}
		return &c, nil
	case *Cmd:
		c := *x
		c.Args = slices.Clone(x.Args)
		return &c, nil
	case *Entrypoint:
		c := *x
		c.Args = slices.Clone(x.Args)
		return &c, nil
	case *Shell:
		c := *x
		c.Shell = slices.Clone(x.Shell)
		return &c, nil
	case *Healthcheck:
		c := *x
		c.Test = slices.Clone(x.Test)
		return &c, nil
	case *Onbuild:
		c := *x
		return &c, nil
	case *Maintainer:
		c := *x
		return &c, nil
	}
	return nil, errorf("cannot expand %T", ins)
}

func expandKVs(e *expander, in []KeyValue) ([]KeyValue, error) {
	out := make([]KeyValue, len(in))
	for i, kv := range in {
		k, err := e.word(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := e.word(kv.Value)
		if err != nil {
			return nil, err
		}
		out[i] = KeyValue{Key: k, Value: v, Legacy: kv.Legacy}
	}
	return out, nil
}

func expandInline(e *expander, in []Inline) ([]Inline, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]Inline, len(in))
	for i, f := range in {
		out[i] = f
		if !f.Expand {
			continue
		}
		v, err := e.rawWord(f.Content)
		if err != nil {
			return nil, err
		}
		out[i].Content = v
	}
	return out, nil
}

// checkPort validates one EXPOSE word.
func checkPort(p string) error {
	_, err := ExposedPorts([]string{p})
	return err
}

// ExposedPorts is hoist's one EXPOSE normaliser (the Dockerfile's, commit
// and import -c): it turns EXPOSE words ([ip:][hostPort:]port[-port][/proto],
// as docker accepts them) into the keys of an image config's ExposedPorts:
// "80/tcp", ranges expanded, protocols lower-cased, duplicates removed, in
// the order given (the builder's history text lists them so).
func ExposedPorts(words []string) ([]string, error) {
	type port struct {
		n     uint64
		proto string
	}
	seen := map[port]bool{}
	var out []port
	for _, w := range words {
		spec, proto, hasProto := strings.Cut(w, "/")
		proto = strings.ToLower(proto)
		if !hasProto {
			proto = "tcp"
		}
		switch proto {
		case "tcp", "udp", "sctp":
		default:
			return nil, errorf("invalid proto: %s", proto)
		}
		if i := strings.LastIndex(spec, ":"); i >= 0 {
			spec = spec[i+1:] // the container port of ip:host:container
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, errorf("invalid containerPort: %s", spec)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, errorf("invalid containerPort: %s", spec)
			}
		}
		for n := a; n <= b; n++ {
			p := port{n, proto}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	keys := make([]string, len(out))
	for i, p := range out {
		keys[i] = strconv.FormatUint(p.n, 10) + "/" + p.proto
	}
	return keys, nil
}
