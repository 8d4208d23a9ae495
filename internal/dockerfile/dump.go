package dockerfile

import (
	"fmt"
	"strconv"
	"strings"
)

// Format renders an instruction's typed fields on one line, deterministically
// (Go-quoted strings, fixed field order). It does not include the location or
// the original text, so it serves as the instruction part of a cache key once
// the instruction is expanded.
func Format(ins Instruction) string {
	var w fieldWriter
	w.b.WriteString(ins.Keyword())
	switch x := ins.(type) {
	case *From:
		w.str("image", x.Image)
		w.opt("platform", x.Platform)
		w.opt("name", x.Name)
	case *Run:
		w.cmdline(x.CommandLine)
		for _, m := range x.Mounts {
			w.raw("mount", formatMount(m))
		}
		w.opt("network", x.Network)
		w.opt("security", x.Security)
		for _, h := range x.Heredocs {
			w.raw("heredoc", formatHeredoc(h))
		}
	case *Cmd:
		w.cmdline(x.CommandLine)
	case *Entrypoint:
		w.cmdline(x.CommandLine)
	case *Expose:
		w.list("ports", x.Ports)
	case *Env:
		w.kvs("vars", x.Vars)
	case *Label:
		w.kvs("labels", x.Labels)
	case *Copy:
		w.list("src", x.Sources)
		w.inline(x.Inline)
		w.str("dest", x.Dest)
		w.flag("exec", x.Exec)
		w.opt("from", x.From)
		w.opt("chown", x.Chown)
		w.opt("chmod", x.Chmod)
		w.flag("link", x.Link)
		w.flag("parents", x.Parents)
		if len(x.Exclude) > 0 {
			w.list("exclude", x.Exclude)
		}
	case *Add:
		w.list("src", x.Sources)
		w.inline(x.Inline)
		w.str("dest", x.Dest)
		w.flag("exec", x.Exec)
		w.opt("chown", x.Chown)
		w.opt("chmod", x.Chmod)
		w.opt("checksum", x.Checksum)
		w.flag("link", x.Link)
		w.flag("keep-git-dir", x.KeepGitDir)
		if x.Unpack != nil {
			w.raw("unpack", strconv.FormatBool(*x.Unpack))
		}
		if len(x.Exclude) > 0 {
			w.list("exclude", x.Exclude)
		}
	case *Volume:
		w.list("paths", x.Paths)
	case *User:
		w.str("user", x.User)
	case *Workdir:
		w.str("path", x.Path)
	case *Arg:
		for _, a := range x.Args {
			if a.Default == nil {
				w.raw("arg", strconv.Quote(a.Name))
			} else {
				w.raw("arg", strconv.Quote(a.Name)+"="+strconv.Quote(*a.Default))
			}
		}
	case *Onbuild:
		w.str("expression", x.Expression)
		if x.Trigger != nil {
			w.raw("trigger", "{"+Format(x.Trigger)+"}")
		}
	case *StopSignal:
		w.str("signal", x.Signal)
	case *Healthcheck:
		w.list("test", x.Test)
		if x.Interval != 0 {
			w.raw("interval", x.Interval.String())
		}
		if x.Timeout != 0 {
			w.raw("timeout", x.Timeout.String())
		}
		if x.StartPeriod != 0 {
			w.raw("start-period", x.StartPeriod.String())
		}
		if x.StartInterval != 0 {
			w.raw("start-interval", x.StartInterval.String())
		}
		if x.Retries != 0 {
			w.raw("retries", strconv.Itoa(x.Retries))
		}
	case *Shell:
		w.list("shell", x.Shell)
	case *Maintainer:
		w.str("name", x.Name)
	}
	return w.b.String()
}

func formatMount(m *Mount) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+strconv.Quote(v))
		}
	}
	add("type", m.Type)
	add("from", m.From)
	add("source", m.Source)
	add("target", m.Target)
	if m.ReadOnly {
		parts = append(parts, "ro")
	}
	add("id", m.ID)
	add("sharing", m.Sharing)
	if m.Mode != nil {
		parts = append(parts, fmt.Sprintf("mode=%#o", *m.Mode))
	}
	if m.UID != nil {
		parts = append(parts, fmt.Sprintf("uid=%d", *m.UID))
	}
	if m.GID != nil {
		parts = append(parts, fmt.Sprintf("gid=%d", *m.GID))
	}
	if m.Size != 0 {
		parts = append(parts, fmt.Sprintf("size=%d", m.Size))
	}
	if m.Required {
		parts = append(parts, "required")
	}
	add("env", m.Env)
	return "{" + strings.Join(parts, " ") + "}"
}

func formatHeredoc(h Heredoc) string {
	return fmt.Sprintf("{name=%q fd=%d expand=%t chomp=%t content=%q}", h.Name, h.FD, h.Expand, h.Chomp, h.Content)
}

type fieldWriter struct{ b strings.Builder }

func (w *fieldWriter) raw(k, v string) { fmt.Fprintf(&w.b, " %s=%s", k, v) }
func (w *fieldWriter) str(k, v string) { w.raw(k, strconv.Quote(v)) }
func (w *fieldWriter) opt(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}
func (w *fieldWriter) flag(k string, v bool) {
	if v {
		fmt.Fprintf(&w.b, " %s", k)
	}
}
func (w *fieldWriter) list(k string, vs []string) {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	w.raw(k, "["+strings.Join(q, ", ")+"]")
}
func (w *fieldWriter) kvs(k string, kvs []KeyValue) {
	q := make([]string, len(kvs))
	for i, kv := range kvs {
		q[i] = strconv.Quote(kv.Key) + "=" + strconv.Quote(kv.Value)
		if kv.Legacy {
			q[i] += "(legacy)"
		}
	}
	w.raw(k, "["+strings.Join(q, ", ")+"]")
}
func (w *fieldWriter) cmdline(c CommandLine) {
	if c.Exec {
		w.list("exec", c.Args)
	} else {
		w.list("shell", c.Args)
	}
}
func (w *fieldWriter) inline(in []Inline) {
	for _, f := range in {
		w.raw("inline", fmt.Sprintf("{name=%q expand=%t content=%q}", f.Name, f.Expand, f.Content))
	}
}

// Dump renders the whole parsed file: directives, warnings, global ARGs and
// every stage with each instruction's location, original text and Format.
// The output is stable; the golden tests compare it.
func (f *File) Dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "file %q escape=%q syntax=%q check=%q\n", f.Name, string(f.Directives.Escape), f.Directives.Syntax, f.Directives.Check)
	for _, w := range f.Warnings {
		fmt.Fprintf(&b, "warning line %d: %s\n", w.Line, w.Msg)
	}
	dumpIns := func(indent string, ins Instruction) {
		l := ins.Loc()
		fmt.Fprintf(&b, "%s%d-%d %s\n", indent, l.Start, l.End, Format(ins))
		fmt.Fprintf(&b, "%s    original: %q\n", indent, ins.Original())
	}
	if len(f.MetaArgs) > 0 {
		b.WriteString("global\n")
	}
	for _, a := range f.MetaArgs {
		dumpIns("  ", a)
	}
	for _, s := range f.Stages {
		fmt.Fprintf(&b, "stage %d name=%q\n", s.Index, s.Name)
		dumpIns("  ", s.From)
		for _, ins := range s.Instructions {
			dumpIns("  ", ins)
		}
	}
	return b.String()
}
