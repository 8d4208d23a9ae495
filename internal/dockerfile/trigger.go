package dockerfile

import (
	"bytes"
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// ParseInstruction parses the text of exactly one instruction (heredoc
// bodies included), outside of any Dockerfile: e.g. an ONBUILD trigger
// stored in an image config, or `LABEL k=v` synthesised from --label.
// name is used in error messages.
func ParseInstruction(text, name string) (Instruction, error) {
	src := []byte(text)
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "empty instruction"}
	}
	p := &fileParser{name: name, src: src}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, p.parserError(err)
	}
	p.lines = bytes.Split(src, []byte("\n"))
	if n := len(res.AST.Children); n != 1 {
		return nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("expected one instruction, found %d", n)}
	}
	node := res.AST.Children[0]
	return p.convert(node, node.Heredocs, res.EscapeToken, nil)
}

// ParseTrigger parses an ONBUILD trigger of a base image (the Expression of
// an Onbuild instruction, as stored in the image config's OnBuild list).
// Triggers may not be ONBUILD, FROM or MAINTAINER.
func ParseTrigger(expr, name string) (Instruction, error) {
	ins, err := ParseInstruction(expr, name)
	if err != nil {
		return nil, err
	}
	switch kw := ins.Keyword(); kw {
	case "ONBUILD":
		return nil, &Error{File: name, Line: 1, Instruction: kw, Msg: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"}
	case "FROM", "MAINTAINER":
		return nil, &Error{File: name, Line: 1, Instruction: kw, Msg: kw + " isn't allowed as an ONBUILD trigger"}
	}
	return ins, nil
}
