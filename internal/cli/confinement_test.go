package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// probeChecks are the system calls docker's default seccomp profile
// denies that secprobe tries (testdata/secprobe); "userns" is a new user,
// mount and cgroup namespace in which a process could lift its own limits.
var probeChecks = []string{"keyctl", "add_key", "request_key", "personality", "mbind", "kexec_load",
	"init_module", "open_by_handle_at", "clock_settime", "quotactl", "userns"}

// secprobe builds testdata/secprobe into a directory to bind-mount at /p.
func secprobe(t *testing.T) string { return buildTestProgram(t, "secprobe") }

// TestCLIConfinement: containers and their exec sessions run under
// docker's default seccomp profile; what it forbids fails with EPERM (the
// host keyring, new user namespaces, ...); a container cannot lift its
// own memory limit; --privileged and seccomp=unconfined run without a
// filter; a custom JSON profile applies and inspect shows it; a missing
// profile is refused before anything is created; systempaths=unconfined
// unmasks /proc. It runs with each runtime: with crun the filter is the
// one hoist compiled (internal/seccomp), with runc libseccomp's.
func TestCLIConfinement(t *testing.T) {
	for _, rt := range []string{"runc", "crun"} {
		t.Run(rt, func(t *testing.T) {
			if _, err := exec.LookPath(rt); err != nil {
				t.Skipf("%s not installed", rt)
			}
			t.Setenv("HOIST_RUNTIME", rt)
			testConfinement(t)
		})
	}
}

func testConfinement(t *testing.T) {
	root := ctrRoot(t)
	probe := secprobe(t)
	want := ""
	for _, c := range probeChecks {
		want += c + ": EPERM\n"
	}
	out, errOut, code := ctrCLI(t, root, "", append([]string{"run", "--rm", "--network", "none", "-v", probe + ":/p", "busybox", "/p/secprobe"}, probeChecks...)...)
	if code != 0 || out != want {
		t.Errorf("default confinement: %d\n%s%s\nwant\n%s", code, out, errOut, want)
	}
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "sh", "-c", "grep Seccomp: /proc/self/status; unshare -r true")
	if code == 0 || !strings.HasPrefix(out, "Seccomp:\t2\n") {
		t.Errorf("unshare -r in a default container: %d %q", code, out)
	}
	// With no filter the probe does get through: it can tell.
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined", "-v", probe+":/p", "busybox", "/p/secprobe", "keyctl")
	if code != 0 || out != "keyctl: ok\n" {
		t.Errorf("seccomp=unconfined: %d %q", code, out)
	}
	for _, opts := range [][]string{{"--security-opt", "seccomp=unconfined"}, {"--privileged"}} {
		args := append(append([]string{"run", "--rm", "--network", "none"}, opts...), "busybox", "grep", "Seccomp:", "/proc/self/status")
		if out, _, code := ctrCLI(t, root, "", args...); code != 0 || out != "Seccomp:\t0\n" {
			t.Errorf("%v: %d %q", opts, code, out)
		}
	}
	// The escape attempt fails, so 300 MB do not fit in 32 MB: OOM-killed.
	out, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "-m", "32m", "-v", probe+":/p", "busybox", "/p/secprobe", "userns", "alloc300")
	if code != 137 || !strings.HasPrefix(out, "userns: EPERM\n") {
		t.Errorf("-m 32m escape and allocation: %d %q %q", code, out, errOut)
	}

	if _, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "conf", "--network", "none", "busybox", "sleep", "60"); code != 0 {
		t.Fatalf("run -d: %d %s", code, errOut)
	}
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{.HostConfig.Runtime}}", "conf"); strings.TrimSpace(out) != os.Getenv("HOIST_RUNTIME") {
		t.Errorf("container runs with %q, want %q", out, os.Getenv("HOIST_RUNTIME"))
	}
	for _, args := range [][]string{{"exec", "conf"}, {"exec", "--privileged", "conf"}} {
		if out, _, code := ctrCLI(t, root, "", append(args, "grep", "Seccomp:", "/proc/self/status")...); code != 0 || out != "Seccomp:\t2\n" {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}

	prof := filepath.Join(t.TempDir(), "nomkdir.json")
	os.WriteFile(prof, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"}]\n}\n"), 0o644)
	out, errOut, code = ctrCLI(t, root, "", "run", "--name", "nomkdir", "--network", "none", "--security-opt", "seccomp="+prof, "busybox", "mkdir", "/made")
	if code != 1 || !strings.Contains(out+errOut, "Operation not permitted") {
		t.Errorf("mkdir under a profile denying it: %d %q %q", code, out, errOut)
	}
	os.Remove(prof) // the container keeps the profile it was created with
	out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{json .HostConfig.SecurityOpt}}", "nomkdir")
	if want := `["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"}]}"]`; strings.TrimSpace(out) != want {
		t.Errorf("inspect SecurityOpt: %s, want %s", out, want)
	}
	if _, errOut, code := ctrCLI(t, root, "", "start", "-a", "nomkdir"); code != 1 || !strings.Contains(errOut, "Operation not permitted") {
		t.Errorf("restart after the profile file is gone: %d %q", code, errOut)
	}
	before, _, _ := ctrCLI(t, root, "", "ps", "-aq")
	for opt, msg := range map[string]string{
		"seccomp=" + prof:        "opening seccomp profile (" + prof + ") failed",
		"seccomp=/etc/hostname":  "compacting json for seccomp profile (/etc/hostname) failed",
		"systempaths=confined":   "invalid --security-opt 2: SystemPaths=confined is not supported",
		"no-new-privileges=what": `invalid --security-opt 2: "no-new-privileges=what"`,
	} {
		if _, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--security-opt", opt, "busybox", "true"); code != 125 || !strings.Contains(errOut, msg) {
			t.Errorf("--security-opt %s: %d %q, want 125 and %q", opt, code, errOut, msg)
		}
	}
	if after, _, _ := ctrCLI(t, root, "", "ps", "-aq"); after != before {
		t.Errorf("a refused --security-opt left a container: %q -> %q", before, after)
	}

	masked := "grep -c -E ' /proc/(keys|timer_list|acpi|bus|sys) ' /proc/mounts"
	if out, _, _ := ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "sh", "-c", masked); strings.TrimSpace(out) == "0" {
		t.Errorf("default container: /proc is not masked")
	}
	if out, _, _ := ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", masked); strings.TrimSpace(out) != "0" {
		t.Errorf("systempaths=unconfined: %s /proc paths still masked", out)
	}
	if out, _, _ := ctrCLI(t, root, "", "info"); !strings.Contains(out, " Security Options:\n  seccomp\n   Profile: builtin\n") {
		t.Errorf("info does not list seccomp:\n%s", out)
	}
}

// TestCLIConfinementMatchesDocker runs the same probes in a docker
// container and a hoist one on this host: the same /proc and /sys mounts
// (docker's masked and read-only paths), the same capabilities and
// seccomp mode, and the same answers to what the profile denies.
func TestCLIConfinementMatchesDocker(t *testing.T) {
	root := ctrRoot(t)
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skip("no docker engine to compare with")
	}
	probe := secprobe(t)
	img := "hoist-confinement-test:1"
	if out, err := exec.Command("docker", "import", busyboxRootTar(t), img).CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", img).Run() })
	script := "awk '$2 ~ \"^/(proc|sys)\" {print $1, $2, $4}' /proc/mounts | sort; grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status; " +
		"for f in " + strings.Join(maskedFiles, " ") + "; do if [ -e $f ]; then stat -c '%n %F %t:%T' $f; fi; done; /p/secprobe " + strings.Join(probeChecks, " ")
	dout, err := exec.Command("docker", "run", "--rm", "--network", "host", "-v", probe+":/p", img, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v %s", err, dout)
	}
	hout, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "host", "-v", probe+":/p", "busybox", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("hoist run: %d %s", code, errOut)
	}
	// Mount options that depend on the engine's own choices, not on
	// confinement (the size of a masking tmpfs).
	// Which null device masks a file, and how it is mounted: runc binds
	// the container's /dev/null, crun (1.8) the host's, read-only. The
	// same device either way (the stat lines compare it), not confinement.
	maskMount := regexp.MustCompile(`(?m)^\S+ (/proc/(` + strings.Join(maskedFileNames(), "|") + `)) .*$`)
	norm := func(s string) []string {
		if defaultRuntime() == "crun" {
			s = maskMount.ReplaceAllString(s, "$1 masked")
		}
		lines := strings.Split(strings.TrimSpace(regexp.MustCompile(`,size=\d+k`).ReplaceAllString(s, "")), "\n")
		sort.Strings(lines)
		return lines
	}
	if d, h := norm(string(dout)), norm(hout); strings.Join(d, "\n") != strings.Join(h, "\n") {
		t.Errorf("docker and hoist differ:\ndocker:\n%s\nhoist:\n%s", strings.Join(d, "\n"), strings.Join(h, "\n"))
	}
}

// maskedFiles are the files among docker's masked paths (the others are
// directories).
var maskedFiles = []string{"/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug"}

// maskedFileNames are maskedFiles' names in /proc.
func maskedFileNames() []string {
	var names []string
	for _, f := range maskedFiles {
		names = append(names, strings.TrimPrefix(f, "/proc/"))
	}
	return names
}

// TestCLIAppArmorDefault: where the host enforces AppArmor, containers run
// under docker's default profile (hoist-default, from moby's template),
// apparmor=unconfined and --privileged without one; where it does not,
// none, as docker (info then lists no apparmor).
func TestCLIAppArmorDefault(t *testing.T) {
	root := ctrRoot(t)
	cur := func(opts ...string) string {
		args := append(append([]string{"run", "--rm", "--network", "none"}, opts...), "busybox", "cat", "/proc/self/attr/current")
		out, errOut, code := ctrCLI(t, root, "", args...)
		if code != 0 {
			t.Fatalf("%v: %d %s", opts, code, errOut)
		}
		return strings.TrimSpace(strings.TrimRight(out, "\x00"))
	}
	info, _, _ := ctrCLI(t, root, "", "info")
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err != nil || !strings.HasPrefix(string(b), "Y") {
		if strings.Contains(info, "apparmor") {
			t.Errorf("info lists apparmor on a host without it:\n%s", info)
		}
		t.Skip("AppArmor is not enabled on this host: containers run without a profile, as docker's")
	}
	if _, err := exec.LookPath("apparmor_parser"); err != nil {
		t.Skip("apparmor_parser is not installed (Debian's apparmor package)")
	}
	if got := cur(); got != "hoist-default (enforce)" {
		t.Errorf("default container's profile: %q", got)
	}
	for _, opts := range [][]string{{"--security-opt", "apparmor=unconfined"}, {"--privileged"}} {
		if got := cur(opts...); got != "unconfined" {
			t.Errorf("%v: profile %q", opts, got)
		}
	}
}
