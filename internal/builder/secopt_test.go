package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// TestIntegrationSecurityOpt: RUN steps are confined as containers are:
// docker's default seccomp filter (Seccomp: 2 in /proc/self/status) unless
// seccomp=unconfined (0) or a custom profile (one denying mkdir makes RUN
// mkdir fail); --security-opt no-new-privileges reaches the RUN process
// (NoNewPrivs: 1, 0 without); the no-op options are accepted (apparmor with
// a note where AppArmor is absent) and unknown ones are refused with
// dockerd's message before any step runs.
func TestIntegrationSecurityOpt(t *testing.T) {
	e := newRealEnv(t)
	df := "FROM busybox\nRUN grep -E 'NoNewPrivs|Seccomp:' /proc/self/status > /nnp\n"
	for i, c := range []struct {
		opts []string
		want string
	}{
		{nil, "NoNewPrivs: 0 Seccomp: 2"},
		{[]string{"no-new-privileges"}, "NoNewPrivs: 1 Seccomp: 2"},
		{[]string{"no-new-privileges=true", "seccomp=unconfined", "label=disable"}, "NoNewPrivs: 1 Seccomp: 0"},
		{[]string{"no-new-privileges:false", "seccomp=unconfined"}, "NoNewPrivs: 0 Seccomp: 0"},
	} {
		tag := "nnp/" + string(rune('a'+i))
		r, _ := e.build(t, df, "", Options{Tags: []string{tag}, NoCache: true, Resources: Resources{SecurityOpt: c.opts}})
		if r.err != nil {
			t.Fatalf("%v: %v\n%s", c.opts, r.err, r.out)
		}
		got, _ := e.readImageFile(t, tag, "nnp")
		if f := strings.Join(strings.Fields(got), " "); f != c.want {
			t.Errorf("%v: /proc/self/status says %q, want %q", c.opts, f, c.want)
		}
	}
	prof := filepath.Join(t.TempDir(), "nomkdir.json")
	os.WriteFile(prof, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644)
	r, _ := e.build(t, "FROM busybox\nRUN mkdir /made\n", "", Options{NoCache: true, Resources: Resources{SecurityOpt: []string{"seccomp=" + prof}}})
	if r.err == nil || !strings.Contains(r.out, "Operation not permitted") {
		t.Errorf("RUN mkdir under a profile denying mkdir: %v\n%s", r.err, r.out)
	}
	if !spec.AppArmorEnabled() {
		r, _ := e.build(t, df, "", Options{Resources: Resources{SecurityOpt: []string{"apparmor=unconfined"}}})
		if r.err != nil || !strings.Contains(r.out, "apparmor=unconfined ignored: AppArmor is not enabled") {
			t.Errorf("apparmor without AppArmor: %v\n%s", r.err, r.out)
		}
	}
	for opt, msg := range map[string]string{
		"foo=bar":                        "invalid --security-opt 2: \"foo=bar\"",
		"bogus":                          "invalid --security-opt 1: \"bogus\"",
		"seccomp=/nonexistent/prof.json": "opening seccomp profile (/nonexistent/prof.json) failed",
	} {
		r, _ := e.build(t, df, "", Options{Resources: Resources{SecurityOpt: []string{opt}}})
		if r.err == nil || !strings.Contains(r.err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", opt, r.err, msg)
		}
		if strings.Contains(r.out, "RUN grep") {
			t.Errorf("%s: a step ran before the option was refused:\n%s", opt, r.out)
		}
		if opt == "foo=bar" && !errdefs.IsInvalidArgument(r.err) {
			t.Errorf("%s: error class %T", opt, r.err)
		}
	}
}
