package build

import (
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// TestIntegrationSecurityOpt: --security-opt no-new-privileges reaches the
// RUN process (NoNewPrivs: 1 in /proc/self/status, 0 without), the no-op
// options are accepted (apparmor with a note where AppArmor is absent) and
// unknown ones are refused with dockerd's message before any step runs.
func TestIntegrationSecurityOpt(t *testing.T) {
	e := newRealEnv(t)
	df := "FROM busybox\nRUN grep NoNewPrivs /proc/self/status > /nnp\n"
	for _, c := range []struct {
		opts []string
		want string
	}{
		{nil, "0"},
		{[]string{"no-new-privileges"}, "1"},
		{[]string{"no-new-privileges=true", "seccomp=unconfined", "label=disable"}, "1"},
		{[]string{"no-new-privileges:false", "seccomp=unconfined"}, "0"},
	} {
		tag := "nnp/" + c.want
		r, _ := e.build(t, df, "", Options{Tags: []string{tag}, NoCache: true, Resources: Resources{SecurityOpt: c.opts}})
		if r.err != nil {
			t.Fatalf("%v: %v\n%s", c.opts, r.err, r.out)
		}
		got, _ := e.readImageFile(t, tag, "nnp")
		if f := strings.Fields(got); len(f) != 2 || f[1] != c.want {
			t.Errorf("%v: /proc/self/status says %q, want NoNewPrivs %s", c.opts, got, c.want)
		}
	}
	if !appArmorEnabled() {
		r, _ := e.build(t, df, "", Options{Resources: Resources{SecurityOpt: []string{"apparmor=unconfined"}}})
		if r.err != nil || !strings.Contains(r.out, "apparmor=unconfined ignored: AppArmor is not enabled") {
			t.Errorf("apparmor without AppArmor: %v\n%s", r.err, r.out)
		}
	}
	for opt, msg := range map[string]string{
		"foo=bar":                "invalid --security-opt 2: \"foo=bar\"",
		"bogus":                  "invalid --security-opt 1: \"bogus\"",
		"seccomp=/tmp/prof.json": "only seccomp=unconfined is supported",
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
