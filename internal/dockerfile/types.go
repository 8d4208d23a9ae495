package dockerfile

import "time"

// File is a parsed Dockerfile.
type File struct {
	Name       string     // the name used in messages, e.g. "Dockerfile"
	Directives Directives // parser directives from the top of the file
	MetaArgs   []*Arg     // ARG instructions before the first FROM (global scope)
	Stages     []*Stage
	Warnings   []Warning
}

// Directives are the parser directives (`# escape=`, `# syntax=`, `# check=`).
type Directives struct {
	Escape rune   // '\\' (default) or '`'
	Syntax string // the frontend image named by `# syntax=`, "" when absent
	Check  string // the value of `# check=`, "" when absent
}

// Warning is a non-fatal finding of the parser.
type Warning struct {
	Line int
	Msg  string
}

// Stage is one FROM and the instructions up to the next FROM.
type Stage struct {
	Index        int    // position in File.Stages
	Name         string // lower-cased `AS name`, "" when unnamed
	From         *From
	Instructions []Instruction
}

// Location is the 1-based, inclusive line range of an instruction in its
// file (heredoc bodies included).
type Location struct {
	Start, End int
}

// Instruction is one typed Dockerfile instruction. The concrete types are the
// pointers *From, *Run, *Cmd, *Entrypoint, *Expose, *Env, *Add, *Copy,
// *Volume, *User, *Workdir, *Arg, *Onbuild, *StopSignal, *Healthcheck,
// *Shell, *Label and *Maintainer.
type Instruction interface {
	// Keyword is the upper-case instruction name, e.g. "RUN".
	Keyword() string
	// Loc is where the instruction is in the file.
	Loc() Location
	// Original is the instruction's text with line continuations joined,
	// as docker records it (no heredoc bodies).
	Original() string
	// Source is the exact source text, lines Loc().Start..Loc().End
	// (heredoc bodies included, comment lines inside continuations too).
	Source() string
	base() *Base
}

// Base holds what every instruction has. It is embedded in each type.
type Base struct {
	Location Location
	Orig     string // see Instruction.Original
	Src      string // see Instruction.Source
	Escape   rune   // the escape token in force, used by Expand
	keyword  string
	file     string // the file name, for messages
}

// Keyword implements Instruction.
func (b *Base) Keyword() string { return b.keyword }

// Loc implements Instruction.
func (b *Base) Loc() Location { return b.Location }

// Original implements Instruction.
func (b *Base) Original() string { return b.Orig }

// Source implements Instruction.
func (b *Base) Source() string { return b.Src }

func (b *Base) base() *Base { return b }

// Heredoc is a here-document attached to RUN, COPY or ADD.
type Heredoc struct {
	Name    string // the delimiter word, quotes removed
	FD      uint   // the file descriptor before <<, 0 when none
	Expand  bool   // false when the delimiter was quoted ('EOF' or "EOF")
	Chomp   bool   // <<- : leading tabs were stripped from Content
	Content string // the body, tabs already stripped when Chomp
}

// From is `FROM [--platform=P] image [AS name]`.
type From struct {
	Base
	Image    string // raw; expanded with the global ARGs only
	Platform string // raw --platform value
	Name     string // stage name, lower-cased
}

// CommandLine is the shared shape of RUN, CMD and ENTRYPOINT.
type CommandLine struct {
	Args []string // exec form: the JSON array; shell form: one element, the raw text
	// Exec is true for the JSON (exec) form. In shell form the builder
	// prepends the SHELL (default ["/bin/sh", "-c"]).
	Exec bool
}

// Run is `RUN [--mount=...] [--network=...] [--security=...] command`.
type Run struct {
	Base
	CommandLine
	Heredocs []Heredoc
	Mounts   []*Mount // parsed from the raw specs; values expanded by Expand
	// MountSpecs are the raw --mount values, in order.
	MountSpecs []string
	Network    string // "", "default", "none" or "host"
	Security   string // "", "sandbox" or "insecure"
}

// Mount types of RUN --mount.
const (
	MountBind   = "bind"
	MountCache  = "cache"
	MountTmpfs  = "tmpfs"
	MountSecret = "secret"
	MountSSH    = "ssh"
)

// Cache mount sharing modes.
const (
	SharingShared  = "shared"
	SharingPrivate = "private"
	SharingLocked  = "locked"
)

// Mount is one RUN --mount.
type Mount struct {
	Type     string // MountBind (default), MountCache, MountTmpfs, MountSecret, MountSSH
	From     string // stage name, index or image (bind, cache); never expanded
	Source   string
	Target   string
	ReadOnly bool // bind mounts default to read-only
	ID       string
	Sharing  string  // cache: shared (default), private, locked
	Mode     *uint32 // cache, secret, ssh
	UID      *uint32
	GID      *uint32
	Size     int64  // tmpfs size in bytes, 0 when unset
	Required bool   // secret, ssh
	Env      string // secret: also expose as this environment variable
}

// Cmd is `CMD`.
type Cmd struct {
	Base
	CommandLine
}

// Entrypoint is `ENTRYPOINT`. `ENTRYPOINT []` has Exec true and no Args.
type Entrypoint struct {
	Base
	CommandLine
}

// Expose is `EXPOSE port[/proto]...`.
type Expose struct {
	Base
	Ports []string // raw words
}

// KeyValue is one pair of ENV or LABEL.
type KeyValue struct {
	Key, Value string // raw
	// Legacy is true for the old `ENV key value with spaces` form.
	Legacy bool
}

// Env is `ENV k=v ...` or `ENV k v`.
type Env struct {
	Base
	Vars []KeyValue
}

// Label is `LABEL k=v ...`.
type Label struct {
	Base
	Labels []KeyValue
}

// Inline is a heredoc used as a COPY/ADD source: `COPY <<EOF /dest`.
type Inline struct {
	Name    string // the delimiter, used as the file name
	Content string
	Expand  bool // variables in Content are expanded (unquoted delimiter)
}

// Copy is `COPY`.
type Copy struct {
	Base
	Sources []string // raw paths/patterns, in order
	Inline  []Inline // heredoc sources
	Dest    string
	Exec    bool   // the JSON form was used
	From    string // --from: stage name, index or image reference
	Chown   string
	Chmod   string
	Link    bool
	Parents bool
	Exclude []string
}

// Add is `ADD`.
type Add struct {
	Base
	Sources    []string
	Inline     []Inline
	Dest       string
	Exec       bool
	Chown      string
	Chmod      string
	Checksum   string
	Link       bool
	KeepGitDir bool // accepted and ignored (git sources are not supported)
	Unpack     *bool
	Exclude    []string
}

// Volume is `VOLUME ["/a", "/b"]` or `VOLUME /a /b`.
type Volume struct {
	Base
	Paths []string
}

// User is `USER name[:group]`.
type User struct {
	Base
	User string
}

// Workdir is `WORKDIR path`.
type Workdir struct {
	Base
	Path string
}

// ArgDef is one name[=default] of an ARG instruction.
type ArgDef struct {
	Name    string
	Default *string // raw, nil when the ARG has no default
}

// Arg is `ARG name[=default] ...`.
type Arg struct {
	Base
	Args []ArgDef
}

// Onbuild is `ONBUILD INSTRUCTION`.
type Onbuild struct {
	Base
	// Expression is the trigger text stored in the image config: the
	// original line without the ONBUILD keyword, heredoc bodies appended.
	Expression string
	Trigger    Instruction
}

// StopSignal is `STOPSIGNAL signal`.
type StopSignal struct {
	Base
	Signal string
}

// Healthcheck is `HEALTHCHECK [options] CMD ...` or `HEALTHCHECK NONE`.
type Healthcheck struct {
	Base
	// Test is docker's form: ["NONE"], ["CMD", args...] or
	// ["CMD-SHELL", "command"].
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Shell is `SHELL ["executable", "params"]`.
type Shell struct {
	Base
	Shell []string
}

// Maintainer is `MAINTAINER name` (deprecated, sets the author).
type Maintainer struct {
	Base
	Name string
}
