package images

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ApplyChanges applies Dockerfile instruction lines (import/commit
// --change) to c: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
// SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR. Lines are parsed with BuildKit's
// Dockerfile parser; words are unquoted and expanded with its shell lexer.
func ApplyChanges(c *ContainerConfig, changes []string) error {
	for _, line := range changes {
		if strings.TrimSpace(line) == "" {
			continue
		}
		res, err := parser.Parse(strings.NewReader(line))
		if err != nil {
			return errdefs.InvalidArgumentf("invalid change %q: %v", line, err)
		}
		for _, n := range res.AST.Children {
			if err := applyNode(c, n, line); err != nil {
				return err
			}
		}
	}
	return nil
}

func words(n *parser.Node) []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

func applyNode(c *ContainerConfig, n *parser.Node, line string) error {
	bad := func(format string, a ...any) error {
		return errdefs.InvalidArgumentf("invalid change %q: %s", line, fmt.Sprintf(format, a...))
	}
	lex := shell.NewLex('\\')
	expand := func(w string) (string, error) {
		s, _, err := lex.ProcessWord(w, shell.EnvsFromSlice(c.Env))
		if err != nil {
			return "", bad("%v", err)
		}
		return s, nil
	}
	cmdForm := func() ([]string, error) {
		w := words(n)
		if n.Attributes["json"] {
			return w, nil
		}
		if len(w) == 0 {
			return nil, nil
		}
		sh := c.Shell
		if len(sh) == 0 {
			sh = []string{"/bin/sh", "-c"}
		}
		return append(slices.Clone(sh), strings.Join(w, " ")), nil
	}
	instr := strings.ToLower(n.Value)
	if len(n.Flags) > 0 && instr != "healthcheck" {
		return bad("%s takes no flags", strings.ToUpper(n.Value))
	}
	switch instr {
	case "cmd":
		v, err := cmdForm()
		if err != nil {
			return err
		}
		c.Cmd = v
	case "entrypoint":
		v, err := cmdForm()
		if err != nil {
			return err
		}
		c.Entrypoint = v
	case "shell":
		if !n.Attributes["json"] {
			return bad("SHELL requires the arguments to be in JSON form")
		}
		c.Shell = words(n)
	case "env", "label":
		// The parser gives key, value, separator triples.
		w := words(n)
		if len(w) == 0 || len(w)%3 != 0 {
			return bad("%s requires at least one argument", strings.ToUpper(n.Value))
		}
		for i := 0; i < len(w); i += 3 {
			k, err := expand(w[i])
			if err != nil {
				return err
			}
			v, err := expand(w[i+1])
			if err != nil {
				return err
			}
			if instr == "label" {
				if c.Labels == nil {
					c.Labels = map[string]string{}
				}
				c.Labels[k] = v
				continue
			}
			c.Env = slices.DeleteFunc(c.Env, func(e string) bool { return strings.SplitN(e, "=", 2)[0] == k })
			c.Env = append(c.Env, k+"="+v)
		}
	case "expose":
		for _, w := range words(n) {
			w, err := expand(w)
			if err != nil {
				return err
			}
			ports, err := dockerfile.ExposedPorts([]string{w})
			if err != nil {
				return bad("%v", err)
			}
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				c.ExposedPorts[p] = struct{}{}
			}
		}
	case "user", "stopsignal", "workdir":
		w := words(n)
		if len(w) != 1 {
			return bad("%s requires exactly one argument", strings.ToUpper(n.Value))
		}
		v, err := expand(w[0])
		if err != nil {
			return err
		}
		switch instr {
		case "user":
			c.User = v
		case "stopsignal":
			c.StopSignal = v
		default:
			if !path.IsAbs(v) {
				v = path.Join("/", c.WorkingDir, v)
			}
			c.WorkingDir = path.Clean(v)
		}
	case "volume":
		w := words(n)
		if len(w) == 0 {
			return bad("VOLUME requires at least one argument")
		}
		for _, v := range w {
			v, err := expand(v)
			if err != nil {
				return err
			}
			if strings.TrimSpace(v) == "" {
				return bad("VOLUME specified can not be an empty string")
			}
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			c.Volumes[v] = struct{}{}
		}
	case "onbuild":
		if n.Next == nil || len(n.Next.Children) == 0 {
			return bad("ONBUILD requires at least one argument")
		}
		sub := strings.ToLower(n.Next.Children[0].Value)
		if sub == "onbuild" || sub == "from" || sub == "maintainer" {
			return bad("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(sub))
		}
		orig := strings.TrimSpace(n.Original)
		_, rest, _ := strings.Cut(orig, " ")
		c.OnBuild = append(c.OnBuild, strings.TrimSpace(rest))
	case "healthcheck":
		return applyHealthcheck(c, n, bad)
	default:
		return errdefs.InvalidArgumentf("invalid change %q: %s is not a valid change command", line, strings.ToUpper(n.Value))
	}
	return nil
}

func applyHealthcheck(c *ContainerConfig, n *parser.Node, bad func(string, ...any) error) error {
	if n.Next == nil {
		return bad("HEALTHCHECK requires an argument")
	}
	typ := strings.ToUpper(n.Next.Value)
	if typ == "NONE" {
		if n.Next.Next != nil || len(n.Flags) > 0 {
			return bad("HEALTHCHECK NONE takes no arguments")
		}
		c.Healthcheck = &HealthConfig{Test: []string{"NONE"}}
		return nil
	}
	if typ != "CMD" {
		return bad("unknown type %q in HEALTHCHECK (try CMD)", typ)
	}
	hc := &HealthConfig{}
	var args []string
	for x := n.Next.Next; x != nil; x = x.Next {
		args = append(args, x.Value)
	}
	if len(args) == 0 {
		return bad("HEALTHCHECK CMD requires a command")
	}
	if n.Attributes["json"] {
		hc.Test = append([]string{"CMD"}, args...)
	} else {
		hc.Test = []string{"CMD-SHELL", strings.Join(args, " ")}
	}
	for _, f := range n.Flags {
		k, v, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if !ok {
			return bad("flag %s needs a value", f)
		}
		var dst *time.Duration
		switch k {
		case "interval":
			dst = &hc.Interval
		case "timeout":
			dst = &hc.Timeout
		case "start-period":
			dst = &hc.StartPeriod
		case "start-interval":
			dst = &hc.StartInterval
		case "retries":
			r, err := strconv.Atoi(v)
			if err != nil || r < 0 {
				return bad("invalid --retries %q", v)
			}
			hc.Retries = r
			continue
		default:
			return bad("unknown flag: --%s", k)
		}
		d, err := time.ParseDuration(v)
		if err != nil || (d != 0 && d < time.Millisecond) {
			return bad("invalid --%s %q: a duration of at least 1ms is required", k, v)
		}
		*dst = d
	}
	c.Healthcheck = hc
	return nil
}
