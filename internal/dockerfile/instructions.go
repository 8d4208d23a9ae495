package dockerfile

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// One function per instruction: each checks its flags and arguments and
// returns the typed instruction (types.go).

// parseFrom parses FROM [--platform=P] IMAGE [AS NAME].
func (p *fileParser) parseFrom(in *instr) (Instruction, error) {
	b, node, args, fl := in.b, in.node, in.args, in.fl
	fl.str("platform")
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	x := &From{Base: b, Platform: fl.getString("platform")}
	switch {
	case len(args) == 3 && strings.EqualFold(args[1], "as"):
		x.Name = strings.ToLower(args[2])
		if !validStageName(x.Name) {
			return nil, errorf("invalid name for build stage: %q, name can't start with a number or contain symbols", args[2])
		}
	case len(args) != 1:
		return nil, errorf("FROM requires either one or three arguments")
	}
	x.Image = args[0]
	return x, nil
}

// parseRun parses RUN [--mount=...] [--network=...] [--security=...] COMMAND (shell, exec or heredoc form).
func (p *fileParser) parseRun(in *instr) (Instruction, error) {
	b, node, args, fl, isJSON, heredocs := in.b, in.node, in.args, in.fl, in.isJSON, in.heredocs
	fl.list("mount").str("network").str("security")
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	x := &Run{Base: b, CommandLine: commandLine(args, isJSON), MountSpecs: fl.getList("mount")}
	if len(x.Args) == 0 && !isJSON {
		return nil, errorf("RUN requires at least one argument")
	}
	for _, h := range heredocs {
		x.Heredocs = append(x.Heredocs, convHeredoc(h))
	}
	for _, spec := range x.MountSpecs {
		m, err := parseMount(spec, func(s string) (string, error) { return s, nil }, true)
		if err != nil {
			return nil, err
		}
		x.Mounts = append(x.Mounts, m)
	}
	x.Network = fl.getString("network")
	if err := checkNetwork(x.Network, true); err != nil {
		return nil, err
	}
	x.Security = fl.getString("security")
	switch x.Security {
	case "", "sandbox", "insecure":
	default:
		return nil, errorf("security %q is not valid", x.Security)
	}
	return x, nil
}

// parseCommand parses CMD and ENTRYPOINT (shell or exec form).
func (p *fileParser) parseCommand(in *instr) (Instruction, error) {
	kw, b, node, args, fl, isJSON := in.kw, in.b, in.node, in.args, in.fl, in.isJSON
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	cl := commandLine(args, isJSON)
	if kw == "CMD" {
		return &Cmd{Base: b, CommandLine: cl}, nil
	}
	return &Entrypoint{Base: b, CommandLine: cl}, nil
}

// parseShell parses SHELL ["executable", "parameters"] (exec form only).
func (p *fileParser) parseShell(in *instr) (Instruction, error) {
	b, node, args, fl, isJSON := in.b, in.node, in.args, in.fl, in.isJSON
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errorf("SHELL requires at least one argument")
	}
	if !isJSON {
		return nil, errorf("SHELL requires the arguments to be in JSON form")
	}
	return &Shell{Base: b, Shell: args}, nil
}

// parseKeyValues parses ENV and LABEL key=value pairs (or the old "key value" form).
func (p *fileParser) parseKeyValues(in *instr) (Instruction, error) {
	kw, b, node, args, fl := in.kw, in.b, in.node, in.args, in.fl
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	kvs, err := keyValues(kw, args)
	if err != nil {
		return nil, err
	}
	if kw == "ENV" {
		return &Env{Base: b, Vars: kvs}, nil
	}
	return &Label{Base: b, Labels: kvs}, nil
}

// parseAddCopy parses ADD and COPY SRC... DEST with their flags (inline heredoc sources too).
func (p *fileParser) parseAddCopy(in *instr) (Instruction, error) {
	kw, b, node, args, fl, isJSON, heredocs, escape := in.kw, in.b, in.node, in.args, in.fl, in.isJSON, in.heredocs, in.escape
	fl.str("chown").str("chmod").bool("link").list("exclude")
	if kw == "ADD" {
		fl.str("checksum").bool("keep-git-dir").bool("unpack")
	} else {
		fl.str("from").bool("parents")
	}
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if len(args) < 2 {
		return nil, errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined", kw)
	}
	srcs, inline, dest, err := sourcesAndDest(kw, args, heredocs, isJSON)
	if err != nil {
		return nil, err
	}
	if kw == "ADD" {
		x := &Add{Base: b, Sources: srcs, Inline: inline, Dest: dest, Exec: isJSON,
			Chown: fl.getString("chown"), Chmod: fl.getString("chmod"), Checksum: fl.getString("checksum"),
			Link: fl.getBool("link"), KeepGitDir: fl.getBool("keep-git-dir"), Exclude: fl.getList("exclude")}
		if fl.used("unpack") {
			u := fl.getBool("unpack")
			x.Unpack = &u
		}
		return x, nil
	}
	x := &Copy{Base: b, Sources: srcs, Inline: inline, Dest: dest, Exec: isJSON,
		From: fl.getString("from"), Chown: fl.getString("chown"), Chmod: fl.getString("chmod"),
		Link: fl.getBool("link"), Parents: fl.getBool("parents"), Exclude: fl.getList("exclude")}
	if x.From != "" {
		res, err := shell.NewLex(escape).ProcessWordWithMatches(x.From, emptyEnv{})
		if err != nil || res.Result != x.From {
			return nil, errorf("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
		}
	}
	return x, nil
}

// parseExpose parses EXPOSE PORT[/PROTO]... (normalised where the config is written).
func (p *fileParser) parseExpose(in *instr) (Instruction, error) {
	b, node, args, fl := in.b, in.node, in.args, in.fl
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errorf("EXPOSE requires at least one argument")
	}
	return &Expose{Base: b, Ports: args}, nil
}

// parseVolume parses VOLUME PATH... (JSON or plain).
func (p *fileParser) parseVolume(in *instr) (Instruction, error) {
	b, node, args, fl := in.b, in.node, in.args, in.fl
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errorf("VOLUME requires at least one argument")
	}
	x := &Volume{Base: b}
	for _, v := range args {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, errorf("VOLUME specified can not be an empty string")
		}
		x.Paths = append(x.Paths, v)
	}
	return x, nil
}

// parseOneArgument parses USER, WORKDIR, STOPSIGNAL and MAINTAINER: exactly one argument.
func (p *fileParser) parseOneArgument(in *instr) (Instruction, error) {
	kw, b, node, args, fl := in.kw, in.b, in.node, in.args, in.fl
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if len(args) != 1 {
		return nil, errorf("%s requires exactly one argument", kw)
	}
	switch kw {
	case "USER":
		return &User{Base: b, User: args[0]}, nil
	case "WORKDIR":
		return &Workdir{Base: b, Path: args[0]}, nil
	case "STOPSIGNAL":
		return &StopSignal{Base: b, Signal: args[0]}, nil
	default:
		return &Maintainer{Base: b, Name: args[0]}, nil
	}
}

// parseArg parses ARG NAME[=DEFAULT]....
func (p *fileParser) parseArg(in *instr) (Instruction, error) {
	b, node, args, fl := in.b, in.node, in.args, in.fl
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errorf("ARG requires at least one argument")
	}
	x := &Arg{Base: b}
	for _, a := range args {
		k, v, hasValue := strings.Cut(a, "=")
		if k == "" {
			return nil, errorf("ARG names can not be blank")
		}
		d := ArgDef{Name: k}
		if hasValue {
			d.Default = &v
		}
		x.Args = append(x.Args, d)
	}
	return x, nil
}

// parseOnbuild parses ONBUILD INSTRUCTION: the trigger is parsed now, run by a child build.
func (p *fileParser) parseOnbuild(in *instr) (Instruction, error) {
	b, node, fl, heredocs, escape := in.b, in.node, in.fl, in.heredocs, in.escape
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if node.Next == nil || len(node.Next.Children) == 0 {
		return nil, errorf("ONBUILD requires at least one argument")
	}
	inner := node.Next.Children[0]
	trigger := strings.ToUpper(strings.TrimSpace(inner.Value))
	switch trigger {
	case "ONBUILD":
		return nil, errorf("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
	case "MAINTAINER", "FROM":
		return nil, errorf("%s isn't allowed as an ONBUILD trigger", trigger)
	}
	inner.StartLine, inner.EndLine = node.StartLine, node.EndLine
	t, err := p.convert(inner, heredocs, escape, nil)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Msg = "ONBUILD " + e.Msg
			e.Instruction = "ONBUILD"
		}
		return nil, err
	}
	tb := t.base()
	tb.Orig = strings.TrimSpace(trimOnbuild(b.Orig))
	expr := trimOnbuild(node.Original)
	if len(heredocs) > 0 {
		var sb strings.Builder
		sb.WriteString(expr)
		for _, h := range heredocs {
			sb.WriteByte('\n')
			sb.WriteString(h.Content)
			sb.WriteString(h.Name)
		}
		expr = sb.String()
	}
	return &Onbuild{Base: b, Expression: expr, Trigger: t}, nil
}

// parseHealthcheck parses HEALTHCHECK [flags] CMD COMMAND, or HEALTHCHECK NONE.
func (p *fileParser) parseHealthcheck(in *instr) (Instruction, error) {
	b, node, args, fl, isJSON := in.b, in.node, in.args, in.fl, in.isJSON
	if len(args) == 0 {
		return nil, errorf("HEALTHCHECK requires at least one argument")
	}
	x := &Healthcheck{Base: b}
	typ := strings.ToUpper(args[0])
	rest := args[1:]
	if typ == "NONE" {
		if len(rest) != 0 {
			return nil, errorf("HEALTHCHECK NONE takes no arguments")
		}
		x.Test = []string{"NONE"}
		return x, nil
	}
	fl.str("interval").str("timeout").str("start-period").str("start-interval").str("retries")
	if err := fl.parse(node.Flags); err != nil {
		return nil, err
	}
	if typ != "CMD" {
		return nil, errorf("Unknown type %q in HEALTHCHECK (try CMD)", args[0])
	}
	cl := commandLine(rest, isJSON)
	if len(cl.Args) == 0 {
		return nil, errorf("Missing command after HEALTHCHECK CMD")
	}
	if isJSON {
		x.Test = append([]string{"CMD"}, cl.Args...)
	} else {
		x.Test = append([]string{"CMD-SHELL"}, cl.Args...)
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"interval", &x.Interval}, {"timeout", &x.Timeout}, {"start-period", &x.StartPeriod}, {"start-interval", &x.StartInterval}} {
		v, err := parseInterval(d.name, fl.getString(d.name))
		if err != nil {
			return nil, err
		}
		*d.dst = v
	}
	if s := fl.getString("retries"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, errorf("invalid value for --retries: %q", s)
		}
		if n < 0 {
			return nil, errorf("--retries cannot be negative (%d)", n)
		}
		x.Retries = int(n)
	}
	return x, nil
}
