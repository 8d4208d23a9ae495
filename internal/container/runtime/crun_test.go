package runtime

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestDockerWords(t *testing.T) {
	for _, c := range []struct{ msg, arg0, want string }{
		{"executable file `nosuch` not found in $PATH: No such file or directory", "nosuch",
			`unable to start container process: exec: "nosuch": executable file not found in $PATH`},
		{"executable file `/no/such` not found in $PATH: No such file or directory", "/no/such",
			`unable to start container process: exec: "/no/such": stat /no/such: no such file or directory`},
		{"open executable: Permission denied", "/etc/passwd", `unable to start container process: exec: "/etc/passwd": permission denied`},
		{"open executable: Operation not permitted", "/etc", `unable to start container process: exec: "/etc": permission denied`},
		{`runc run failed: unable to start container process: exec: "x": executable file not found in $PATH`, "x",
			`runc run failed: unable to start container process: exec: "x": executable file not found in $PATH`},
		{"cgroup setup failed", "x", "cgroup setup failed"},
	} {
		got := DockerWords(c.msg, c.arg0)
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.msg, got, c.want)
		}
	}
	// docker's exit codes follow from the words
	for msg, code := range map[string]int{
		"executable file `x` not found in $PATH: No such file or directory": 127,
		"open executable: Permission denied":                                126,
		"open executable: Operation not permitted":                          126,
	} {
		if got := ExitCode(DockerWords(msg, "x")); got != code {
			t.Errorf("%q: exit %d, want %d", msg, got, code)
		}
	}
}

func TestLogArgs(t *testing.T) {
	if got := (Runtime{Binary: "/usr/bin/crun"}).LogArgs("/a:b/log"); !slices.Equal(got, []string{"--log", "file:/a:b/log", "--log-format", "json"}) {
		t.Errorf("crun: %q", got)
	}
	if got := (Runtime{Binary: "runc"}).LogArgs("/a:b/log"); !slices.Equal(got, []string{"--log", "/a:b/log", "--log-format", "json"}) {
		t.Errorf("runc: %q", got)
	}
}

// crun's words on failing to start an exec'd process never reach the
// process's stderr reader; the process's own output always does, held
// or not.
func TestProcessStderr(t *testing.T) {
	var out bytes.Buffer
	started := false
	p := Runtime{Binary: "crun"}.NewProcessStderr(&out, func() bool { return started })
	p.Write([]byte("executable file `x` not found in $PATH: No such file or directory\n"))
	p.Done(false)
	if out.Len() != 0 || p.Shows() {
		t.Fatalf("crun's words passed on: %q", out.String())
	}
	p = Runtime{Binary: "crun"}.NewProcessStderr(&out, func() bool { return started })
	p.Write([]byte("early "))
	started = true
	p.Write([]byte("late\n"))
	p.Done(true)
	if out.String() != "early late\n" {
		t.Fatalf("the process's output: %q", out.String())
	}
	out.Reset()
	started = false
	p = Runtime{Binary: "crun"}.NewProcessStderr(&out, func() bool { return started })
	p.Write([]byte("before the pid file\n"))
	p.Done(true)
	if out.String() != "before the pid file\n" {
		t.Fatalf("held output of a process that ran: %q", out.String())
	}
	out.Reset()
	p = Runtime{Binary: "runc"}.NewProcessStderr(&out, func() bool { return false })
	p.Write([]byte("runc's words\n"))
	p.Done(false)
	if out.String() != "runc's words\n" || !p.Shows() {
		t.Fatalf("runc: %q", out.String())
	}
}

// forCrun's read-only /proc paths are binds of the container's own /proc
// with runc's flags; the spec given is not changed; runc's is written as
// it is.
func TestForCrun(t *testing.T) {
	s := &specs.Spec{
		Root: &specs.Root{Path: "/r/rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		},
		Linux: &specs.Linux{CgroupsPath: "hoist-x", ReadonlyPaths: []string{"/proc/sys", "/proc/no-such-entry"}},
	}
	c := forCrun(s)
	if len(s.Mounts) != 2 || len(s.Linux.ReadonlyPaths) != 2 {
		t.Fatalf("the spec given was changed: %+v", s)
	}
	i := slices.IndexFunc(c.Mounts, func(m specs.Mount) bool { return m.Destination == "/proc/sys" })
	if i < 0 || c.Mounts[i].Source != "/r/rootfs/proc/sys" || !slices.Equal(c.Mounts[i].Options, []string{"rbind", "ro", "nosuid", "nodev", "noexec"}) {
		t.Fatalf("/proc/sys: %+v", c.Mounts)
	}
	if !slices.Equal(c.Linux.ReadonlyPaths, []string{"/proc/no-such-entry"}) {
		t.Errorf("readonly paths left to crun: %q", c.Linux.ReadonlyPaths)
	}
	var st unix.Statfs_t
	v1 := unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.TMPFS_MAGIC
	j := slices.IndexFunc(c.Mounts, func(m specs.Mount) bool { return m.Destination == cgroupRoot })
	switch {
	case j < 0:
		t.Fatal("no /sys/fs/cgroup")
	case v1 && c.Mounts[j].Type == "tmpfs":
		if !slices.Contains(c.Mounts[j].Options, "mode=755") {
			t.Errorf("cgroup tmpfs: %+v", c.Mounts[j])
		}
		for _, m := range c.Mounts[j+1:] {
			if strings.HasPrefix(m.Destination, cgroupRoot+"/") && (m.Source != m.Destination+"/hoist-x" || !slices.Contains(m.Options, "ro")) {
				t.Errorf("cgroup bind: %+v", m)
			}
		}
	case c.Mounts[j].Type != "cgroup":
		t.Errorf("/sys/fs/cgroup on a cgroup v2 host: %+v", c.Mounts[j])
	}
}
