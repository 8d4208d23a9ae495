package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// MaxSize is the largest Dockerfile Parse accepts.
const MaxSize = 16 << 20

// validStageName is docker's rule for stage names: [a-z][a-z0-9-_.]*.
func validStageName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')) {
			return false
		}
	}
	return n != ""
}

// trimOnbuild drops a leading ONBUILD keyword (any case) and the blanks
// around it.
func trimOnbuild(s string) string {
	t := strings.TrimLeft(s, " \t\r\n")
	if len(t) >= 7 && strings.EqualFold(t[:7], "ONBUILD") {
		return strings.TrimLeft(t[7:], " \t\r\n")
	}
	return s
}

// Parse reads a Dockerfile from r. name is used in error messages (usually
// "Dockerfile" or the -f argument).
func Parse(r io.Reader, name string) (*File, error) {
	dt, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(dt) > MaxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("the Dockerfile is larger than %d bytes", MaxSize), Err: errdefs.ErrInvalidArgument}
	}
	if len(bytes.TrimSpace(dt)) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "the Dockerfile cannot be empty"}
	}
	p := &fileParser{name: name, src: dt}
	return p.parse()
}

type fileParser struct {
	name  string
	src   []byte
	lines [][]byte // src split on '\n', for Source texts and error keywords
}

func (p *fileParser) parse() (*File, error) {
	res, err := parser.Parse(bytes.NewReader(p.src))
	if err != nil {
		return nil, p.parserError(err)
	}
	p.lines = bytes.Split(p.src, []byte("\n"))
	f := &File{Name: p.name, Directives: Directives{Escape: res.EscapeToken}}
	if v, _, _, ok := parser.ParseDirective("syntax", p.src); ok {
		f.Directives.Syntax = v
	}
	if _, v, _, ok := parser.ParseDirective("check", p.src); ok {
		f.Directives.Check = v
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		f.Warnings = append(f.Warnings, Warning{Line: line, Msg: w.Short})
	}

	names := map[string]int{}
	var last Instruction
	for _, node := range res.AST.Children {
		ins, err := p.convert(node, node.Heredocs, res.EscapeToken, f)
		if err != nil {
			return nil, err
		}
		last = ins
		switch x := ins.(type) {
		case *From:
			if x.Name != "" {
				if line, dup := names[x.Name]; dup {
					return nil, newError(p.name, x.Location.Start, "FROM",
						errorf("duplicate stage name %q (first defined on line %d)", x.Name, line))
				}
				names[x.Name] = x.Location.Start
			}
			f.Stages = append(f.Stages, &Stage{Index: len(f.Stages), Name: x.Name, From: x})
		case *Arg:
			if len(f.Stages) == 0 {
				f.MetaArgs = append(f.MetaArgs, x)
				continue
			}
			st := f.Stages[len(f.Stages)-1]
			st.Instructions = append(st.Instructions, x)
		default:
			if len(f.Stages) == 0 {
				return nil, newError(p.name, ins.Loc().Start, ins.Keyword(),
					errorf("no build stage in current context: %s before the first FROM (only ARG may come before FROM)", ins.Keyword()))
			}
			st := f.Stages[len(f.Stages)-1]
			st.Instructions = append(st.Instructions, ins)
		}
	}
	if len(f.Stages) == 0 {
		line := 1
		if last != nil {
			line = last.Loc().Start
		}
		return nil, &Error{File: p.name, Line: line, Msg: "no FROM instruction: the Dockerfile contains no stages to build"}
	}
	return f, nil
}

// parserError turns an error of BuildKit's parser into an *Error naming the
// line and, when there is one, the instruction on it.
func (p *fileParser) parserError(err error) error {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	if le != nil && le.Unwrap() != nil {
		msg = le.Unwrap().Error()
	}
	instr := ""
	if line > 0 {
		lines := bytes.SplitN(p.src, []byte("\n"), line+1)
		if line <= len(lines) {
			if fs := strings.Fields(string(lines[line-1])); len(fs) > 0 && !strings.HasPrefix(fs[0], "#") {
				instr = strings.ToUpper(fs[0])
			}
		}
	}
	if msg == "file with no instructions" {
		instr = ""
	}
	if line == 0 {
		line = 1
	}
	return newError(p.name, line, instr, errors.New(msg))
}

// source returns lines start..end (1-based, inclusive) of the file.
func (p *fileParser) source(start, end int) string {
	if start < 1 {
		start = 1
	}
	if end > len(p.lines) {
		end = len(p.lines)
	}
	if start > end {
		return ""
	}
	s := string(bytes.Join(p.lines[start-1:end], []byte("\n")))
	return strings.TrimRight(s, "\r")
}

func nodeArgs(node *parser.Node) []string {
	var out []string
	for n := node.Next; n != nil; n = n.Next {
		out = append(out, n.Value)
	}
	return out
}

// looksLikeJSON reports whether the args of node start like a JSON array
// but were not parsed as one (docker then falls back to the shell form).
func looksLikeJSON(node *parser.Node) bool {
	if node.Attributes["json"] {
		return false
	}
	for n := node.Next; n != nil; n = n.Next {
		return strings.HasPrefix(strings.TrimSpace(n.Value), "[")
	}
	return false
}

var keywords = map[string]string{
	"add": "ADD", "arg": "ARG", "cmd": "CMD", "copy": "COPY", "entrypoint": "ENTRYPOINT",
	"env": "ENV", "expose": "EXPOSE", "from": "FROM", "healthcheck": "HEALTHCHECK",
	"label": "LABEL", "maintainer": "MAINTAINER", "onbuild": "ONBUILD", "run": "RUN",
	"shell": "SHELL", "stopsignal": "STOPSIGNAL", "user": "USER", "volume": "VOLUME",
	"workdir": "WORKDIR",
}

// convert turns one parser node into a typed instruction.
func (p *fileParser) convert(node *parser.Node, heredocs []parser.Heredoc, escape rune, f *File) (Instruction, error) {
	kw, ok := keywords[strings.ToLower(node.Value)]
	if !ok {
		return nil, newError(p.name, node.StartLine, "", errorf("unknown instruction: %s", node.Value))
	}
	b := Base{
		Location: Location{Start: node.StartLine, End: node.EndLine},
		Orig:     strings.TrimSpace(node.Original),
		Src:      p.source(node.StartLine, node.EndLine),
		Escape:   escape,
		keyword:  kw,
		file:     p.name,
	}
	ins, err := p.build(kw, b, node, heredocs, escape, f)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, newError(p.name, node.StartLine, kw, err)
	}
	return ins, nil
}

func (p *fileParser) warn(f *File, line int, format string, args ...any) {
	if f != nil {
		f.Warnings = append(f.Warnings, Warning{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

// instr is one instruction being parsed: its keyword, its Base and what
// the parser node holds.
type instr struct {
	kw       string
	b        Base
	node     *parser.Node
	args     []string
	fl       *flagSet
	isJSON   bool
	heredocs []parser.Heredoc
	escape   rune
	f        *File // nil for an ONBUILD trigger
}

// instructions maps each keyword to the function that parses it, one per
// instruction (or per family sharing one grammar), as BuildKit's
// instructions package does.
var instructions map[string]func(*fileParser, *instr) (Instruction, error)

func init() {
	instructions = map[string]func(*fileParser, *instr) (Instruction, error){
		"FROM":        (*fileParser).parseFrom,
		"RUN":         (*fileParser).parseRun,
		"CMD":         (*fileParser).parseCommand,
		"ENTRYPOINT":  (*fileParser).parseCommand,
		"SHELL":       (*fileParser).parseShell,
		"ENV":         (*fileParser).parseKeyValues,
		"LABEL":       (*fileParser).parseKeyValues,
		"ADD":         (*fileParser).parseAddCopy,
		"COPY":        (*fileParser).parseAddCopy,
		"EXPOSE":      (*fileParser).parseExpose,
		"VOLUME":      (*fileParser).parseVolume,
		"USER":        (*fileParser).parseOneArgument,
		"WORKDIR":     (*fileParser).parseOneArgument,
		"STOPSIGNAL":  (*fileParser).parseOneArgument,
		"MAINTAINER":  (*fileParser).parseOneArgument,
		"ARG":         (*fileParser).parseArg,
		"ONBUILD":     (*fileParser).parseOnbuild,
		"HEALTHCHECK": (*fileParser).parseHealthcheck,
	}
}

func (p *fileParser) build(kw string, b Base, node *parser.Node, heredocs []parser.Heredoc, escape rune, f *File) (Instruction, error) {
	if looksLikeJSON(node) {
		p.warn(f, node.StartLine, "%s: arguments look like a JSON array but are not valid JSON; using the shell form", kw)
	}
	parse, ok := instructions[kw]
	if !ok {
		return nil, errorf("unknown instruction: %s", node.Value)
	}
	return parse(p, &instr{kw: kw, b: b, node: node, args: nodeArgs(node), fl: newFlagSet(), isJSON: node.Attributes["json"],
		heredocs: heredocs, escape: escape, f: f})
}

func commandLine(args []string, isJSON bool) CommandLine {
	if isJSON {
		if args == nil {
			args = []string{}
		}
		return CommandLine{Args: args, Exec: true}
	}
	if len(args) == 0 {
		return CommandLine{}
	}
	return CommandLine{Args: []string{strings.Join(args, " ")}}
}

func convHeredoc(h parser.Heredoc) Heredoc {
	c := h.Content
	if h.Chomp {
		c = parser.ChompHeredocContent(c)
	}
	return Heredoc{Name: h.Name, FD: h.FileDescriptor, Expand: h.Expand, Chomp: h.Chomp, Content: c}
}

func keyValues(kw string, args []string) ([]KeyValue, error) {
	if len(args) == 0 {
		return nil, errorf("%s requires at least one argument", kw)
	}
	if len(args)%3 != 0 {
		return nil, errorf("Bad input to %s, too many arguments", kw)
	}
	var out []KeyValue
	for i := 0; i < len(args); i += 3 {
		if args[i] == "" {
			return nil, errorf("%s names can not be blank", kw)
		}
		out = append(out, KeyValue{Key: args[i], Value: args[i+1], Legacy: args[i+2] == ""})
	}
	return out, nil
}

func sourcesAndDest(kw string, args []string, heredocs []parser.Heredoc, isJSON bool) ([]string, []Inline, string, error) {
	srcs, dest := args[:len(args)-1], args[len(args)-1]
	if isJSON {
		return append([]string(nil), srcs...), nil, dest, nil
	}
	if parser.MustParseHeredoc(dest) != nil {
		return nil, nil, "", errorf("%s cannot accept a heredoc as a destination", kw)
	}
	byName := map[string]parser.Heredoc{}
	for _, h := range heredocs {
		byName[h.Name] = h
	}
	var paths []string
	var inline []Inline
	for _, s := range srcs {
		if h := parser.MustParseHeredoc(s); h != nil {
			content := byName[h.Name].Content
			if h.Chomp {
				content = parser.ChompHeredocContent(content)
			}
			inline = append(inline, Inline{Name: h.Name, Content: content, Expand: h.Expand})
			continue
		}
		paths = append(paths, s)
	}
	return paths, inline, dest, nil
}

func parseInterval(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errorf("invalid value for --%s: %q: %v", name, s, err)
	}
	if d == 0 {
		return 0, nil
	}
	if d < time.Millisecond {
		return 0, errorf("Interval %q cannot be less than %s", name, time.Millisecond)
	}
	return d, nil
}

func checkNetwork(n string, lenient bool) error {
	switch n {
	case "", "default", "none", "host":
		return nil
	}
	if lenient && strings.Contains(n, "$") {
		return nil
	}
	return errorf("invalid network mode %q", n)
}

type emptyEnv struct{}

func (emptyEnv) Get(string) (string, bool) { return "", false }
func (emptyEnv) Keys() []string            { return nil }
