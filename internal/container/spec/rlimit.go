package spec

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Ulimit is one --ulimit name=soft[:hard].
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// ParseUlimit parses docker's --ulimit NAME=SOFT[:HARD] (-1: unlimited).
func ParseUlimit(s string) (Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return Ulimit{}, errdefs.InvalidArgumentf("invalid ulimit argument: %s", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := strconv.ParseInt(softS, 10, 64)
	if err != nil {
		return Ulimit{}, errdefs.InvalidArgumentf("invalid ulimit soft value: %s", softS)
	}
	hard := soft
	if hasHard {
		if hard, err = strconv.ParseInt(hardS, 10, 64); err != nil {
			return Ulimit{}, errdefs.InvalidArgumentf("invalid ulimit hard value: %s", hardS)
		}
	}
	if soft > hard && hard >= 0 {
		return Ulimit{}, errdefs.InvalidArgumentf("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func hostRlimit(res int) (uint64, bool) {
	var r unix.Rlimit
	if err := unix.Getrlimit(res, &r); err != nil {
		return 0, false
	}
	return r.Max, true
}

var rlimitNames = map[string]int{
	"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// Rlimits returns a process's rlimits: RLIMIT_NOFILE 1048576 (docker's
// default) and the --ulimit values, every one clamped to the host's hard
// limit so that the runtime never fails raising them.
func Rlimits(ulimits []Ulimit) ([]specs.POSIXRlimit, error) {
	want := map[string]Ulimit{"nofile": {Name: "nofile", Soft: 1048576, Hard: 1048576}}
	order := []string{"nofile"}
	for _, u := range ulimits {
		if _, ok := rlimitNames[u.Name]; !ok {
			return nil, errdefs.InvalidArgumentf("invalid ulimit type: %s", u.Name)
		}
		if _, seen := want[u.Name]; !seen {
			order = append(order, u.Name)
		}
		want[u.Name] = u
	}
	var out []specs.POSIXRlimit
	for _, n := range order {
		u := want[n]
		soft, hard := uint64(u.Soft), uint64(u.Hard)
		if u.Soft < 0 {
			soft = unix.RLIM_INFINITY
		}
		if u.Hard < 0 {
			hard = unix.RLIM_INFINITY
		}
		if max, ok := hostRlimit(rlimitNames[n]); ok {
			hard = min(hard, max)
			soft = min(soft, hard)
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(n), Soft: soft, Hard: hard})
	}
	return out, nil
}
