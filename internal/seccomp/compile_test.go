package seccomp_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"

	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/seccomp"
)

// python is Debian's interpreter, the one python3-seccomp (libseccomp's
// own Python binding) installs for.
const python = "/usr/bin/python3"

// libseccompProgram compiles f with libseccomp (testdata/libseccomp.py)
// and returns its program and the names libseccomp does not know.
func libseccompProgram(t *testing.T, f *specs.LinuxSeccomp) ([]bpf.Instruction, []string) {
	t.Helper()
	if err := exec.Command(python, "-c", "import seccomp").Run(); err != nil {
		t.Skip("libseccomp's Python binding (Debian's python3-seccomp) is not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "filter.json"), filepath.Join(dir, "filter.bpf")
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/libseccomp.py", in, out)
	cmd.Stderr = os.Stderr
	names, err := cmd.Output()
	if err != nil {
		t.Fatalf("libseccomp: %v", err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, raw), strings.Fields(string(names))
}

// decode reads a program as the kernel does (struct sock_filter, host
// byte order).
func decode(t *testing.T, raw []byte) []bpf.Instruction {
	t.Helper()
	if len(raw)%8 != 0 {
		t.Fatalf("program of %d bytes", len(raw))
	}
	var ins []bpf.RawInstruction
	for i := 0; i < len(raw); i += 8 {
		ins = append(ins, bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(raw[i:]),
			Jt: raw[i+2], Jf: raw[i+3],
			K: binary.NativeEndian.Uint32(raw[i+4:]),
		})
	}
	prog, ok := bpf.Disassemble(ins)
	if !ok {
		t.Fatal("program has instructions the interpreter cannot run")
	}
	return prog
}

// call is one system call as the filter sees it (struct seccomp_data).
type call struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// packet lays the call out for the interpreter, which loads 32-bit words
// big-endian: each word of seccomp_data is written so that it reads back
// as the kernel's native load would.
func (c call) packet() []byte {
	p := make([]byte, 64)
	binary.BigEndian.PutUint32(p[0:], c.nr)
	binary.BigEndian.PutUint32(p[4:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(p[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(p[16+8*i+4:], uint32(a>>32))
	}
	return p
}

// calls is the input space for filter f: every system call number of
// every ABI (and of x32 on x86_64), an unknown architecture, and for the
// calls with argument rules every value the rules name and its
// neighbours, on each compared argument, plus random arguments.
func calls(f *specs.LinuxSeccomp, skip map[string]bool) []call {
	values := []uint64{0, 1, 0xffffffff, 1 << 32, 0xffffffffffffffff, 0x7fffffff, 0x80000000}
	idx := map[uint]bool{}
	for _, sc := range f.Syscalls {
		for _, a := range sc.Args {
			idx[a.Index] = true
			for _, v := range []uint64{a.Value, a.ValueTwo, a.Value | a.ValueTwo, ^a.Value} {
				values = append(values, v, v+1, v-1, v|1<<32, v&0xffffffff)
			}
		}
	}
	skipNr := map[[2]uint32]bool{}
	tables := []*arch.Info{arch.X86_64, arch.I386, arch.X32, arch.AARCH64, arch.ARM}

	for _, info := range tables {
		for name := range skip {
			if nr, ok := info.SyscallNames[name]; ok {
				skipNr[[2]uint32{uint32(info.ID), uint32(nr | info.SeccompMask)}] = true
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []call
	add := func(c call) {
		if !skipNr[[2]uint32{c.arch, c.nr}] {
			out = append(out, c)
		}
	}
	for _, info := range tables {
		for nr := 0; nr < 1100; nr++ {
			n := uint32(nr | info.SeccompMask)
			add(call{nr: n, arch: uint32(info.ID)})
			for i := range idx {
				for _, v := range values {
					c := call{nr: n, arch: uint32(info.ID)}
					c.args[i] = v
					add(c)
				}
			}
			for range 4 {
				c := call{nr: n, arch: uint32(info.ID)}
				for i := range c.args {
					c.args[i] = values[rng.IntN(len(values))]
				}
				add(c)
			}
		}
	}
	add(call{nr: 1, arch: 0x12345678})
	return out
}

// equivalent runs both programs over the input space and reports the
// calls they decide differently.
func equivalent(t *testing.T, f *specs.LinuxSeccomp) {
	t.Helper()
	want, unknown := libseccompProgram(t, f)
	got, err := seccomp.Program(f)
	if err != nil {
		t.Fatal(err)
	}
	// The program as the kernel would receive it decodes to the same.
	raw, err := seccomp.Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	if d := decode(t, raw); len(d) != len(got) {
		t.Fatalf("Compile has %d instructions, Program %d", len(d), len(got))
	}
	vmWant, err := bpf.NewVM(want)
	if err != nil {
		t.Fatalf("libseccomp's program: %v", err)
	}
	vmGot, err := bpf.NewVM(got)
	if err != nil {
		t.Fatalf("hoist's program: %v", err)
	}
	skip := map[string]bool{}
	for _, n := range unknown {
		skip[n] = true
	}
	// Only ABIs the filter has are compared on their calls; the others
	// must be killed by both.
	var diffs []string
	n := 0
	for _, c := range calls(f, skip) {
		w, err1 := vmWant.Run(c.packet())
		g, err2 := vmGot.Run(c.packet())
		if err1 != nil || err2 != nil {
			t.Fatalf("run: %v %v", err1, err2)
		}
		n++
		if w != g && len(diffs) < 20 {
			diffs = append(diffs, fmt.Sprintf("arch %#x nr %d args %#x: libseccomp %#x, hoist %#x", c.arch, c.nr, c.args, uint32(w), uint32(g)))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("%d calls tried; decisions differ:\n%s", n, strings.Join(diffs, "\n"))
	}
	t.Logf("%d calls decided alike; hoist %d instructions, libseccomp %d; names libseccomp does not know: %v", n, len(got), len(want), unknown)
}

func TestDockerDefaultProfileAsLibseccomp(t *testing.T) {
	for name, caps := range map[string][]string{
		"default caps": spec.DefaultCapabilities(),
		"all caps":     allCaps(),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := spec.Seccomp("", caps, false)
			if err != nil {
				t.Fatal(err)
			}
			if f == nil {
				t.Skip("no seccomp in this kernel")
			}
			equivalent(t, f)
		})
	}
}

func allCaps() []string {
	return []string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_SYS_BOOT", "CAP_SYS_TIME",
		"CAP_SYS_RAWIO", "CAP_SYS_PACCT", "CAP_SYS_NICE", "CAP_SYSLOG", "CAP_SYS_RESOURCE", "CAP_BPF",
		"CAP_PERFMON", "CAP_SYS_TTY_CONFIG", "CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH", "CAP_CHOWN"}
}

// TestCustomProfileAsLibseccomp covers what docker's profile does not
// use: every comparison on 64-bit values, two comparisons of one
// argument, several conditions at once, and the other actions.
func TestCustomProfileAsLibseccomp(t *testing.T) {
	errno := func(n uint) *uint { return &n }
	f := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: errno(38),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "close"}, Action: specs.ActAllow},
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: errno(13)},
			{Names: []string{"kill"}, Action: specs.ActKillProcess},
			{Names: []string{"tkill"}, Action: specs.ActTrap},
			{Names: []string{"getpid"}, Action: specs.ActLog},
			{Names: []string{"openat"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0x1_0000_0000, Op: specs.OpGreaterThan}}},
			{Names: []string{"lseek"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0x2_0000_0005, Op: specs.OpGreaterEqual}}},
			{Names: []string{"pread64"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 3, Value: 0x1_0000_0010, Op: specs.OpLessThan}}},
			{Names: []string{"pwrite64"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 3, Value: 0x1_0000_0010, Op: specs.OpLessEqual}}},
			{Names: []string{"dup3"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0x8_0000_0000, Op: specs.OpNotEqual}}},
			{Names: []string{"mmap"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0xf_0000_0004, ValueTwo: 0x1_0000_0004, Op: specs.OpMaskedEqual}}},
			// One argument compared twice: one rule per comparison.
			{Names: []string{"ioctl"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 1, Value: 0x5401, Op: specs.OpEqualTo}, {Index: 1, Value: 0x5413, Op: specs.OpEqualTo}}},
			// Several arguments at once: all must hold.
			{Names: []string{"fcntl"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 3, Op: specs.OpGreaterEqual}, {Index: 1, Value: 4, Op: specs.OpEqualTo}}},
		},
	}
	equivalent(t, f)
}

func TestCompileRefusesWhatItDoesNotModel(t *testing.T) {
	for name, f := range map[string]*specs.LinuxSeccomp{
		"notify":   {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}},
		"flags":    {DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}},
		"listener": {DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock"},
		"ppc64le":  {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchPPC64LE}},
		"aarch64":  {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchAARCH64}},
		"x32":      {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX32}},
	} {
		if _, err := seccomp.Compile(f); !errors.Is(err, seccomp.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}
