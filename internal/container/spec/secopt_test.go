package spec

import (
	"reflect"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestParseSecurityOpts(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want SecurityOpts
		err  string
	}{
		{in: []string{"no-new-privileges"}, want: SecurityOpts{NoNewPrivileges: true}},
		{in: []string{"no-new-privileges=true", "no-new-privileges:false"}, want: SecurityOpts{}},
		{in: []string{"seccomp=unconfined", "apparmor=unconfined", "label=disable", "disable"},
			want: SecurityOpts{Seccomp: "unconfined", AppArmor: "unconfined", Labels: []string{"disable", "disable"}}},
		{in: []string{"label:type:svirt_t"}, want: SecurityOpts{Labels: []string{"type:svirt_t"}}},
		{in: []string{"systempaths=unconfined", "seccomp={}"}, want: SecurityOpts{SystemPaths: "unconfined", Seccomp: "{}"}},
		{in: []string{"systempaths=masked"}, err: `invalid --security-opt 2: SystemPaths=masked is not supported`},
		{in: []string{"bogus"}, err: `invalid --security-opt 1: "bogus"`},
		{in: []string{"foo=bar"}, err: `invalid --security-opt 2: "foo=bar"`},
		{in: []string{"no-new-privileges=maybe"}, err: `invalid --security-opt 2: "no-new-privileges=maybe"`},
	} {
		got, err := ParseSecurityOpts(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err || !errdefs.IsInvalidArgument(err) {
				t.Errorf("%v: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}
