package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// ErrUnsupported is returned for a filter Compile does not model; the
// runtime compiles such a filter itself.
var ErrUnsupported = errors.New("seccomp filter not compiled by hoist")

// The kernel's return values (SECCOMP_RET_*).
const (
	retKillThread  = 0x00000000
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	x32Bit = 0x40000000 // __X32_SYSCALL_BIT

	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
	offArgs = 16

	maxInstructions = 4096 // BPF_MAXINSNS
	eperm           = 1
)

// abi is one system call ABI of a filter: its audit architecture, its
// system call table and whether arguments are 32-bit.
type abi struct {
	info   *arch.Info
	bits32 bool
}

var abis = map[specs.Arch]abi{
	specs.ArchX86_64: {arch.X86_64, false},
	specs.ArchX86:    {arch.I386, true},
}

// nativeArch is the ABI libseccomp always filters: the one the runtime
// runs on (GOARCH's).
func nativeArch() (specs.Arch, bool) {
	info, err := arch.GetInfo("")
	if err != nil {
		return "", false
	}
	for a, x := range abis {
		if x.info == info {
			return a, true
		}
	}
	return "", false
}

// Compile turns the filter f into the BPF program the kernel loads
// (struct sock_filter entries, in the host's byte order), with the
// meaning libseccomp gives it (see the package documentation).
func Compile(f *specs.LinuxSeccomp) ([]byte, error) {
	prog, err := Program(f)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 8*len(raw))
	for _, in := range raw {
		out = binary.NativeEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out, nil
}

// Program is Compile's program as instructions.
func Program(f *specs.LinuxSeccomp) ([]bpf.Instruction, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: no filter", ErrUnsupported)
	}
	if len(f.Flags) > 0 || f.ListenerPath != "" || f.ListenerMetadata != "" {
		return nil, fmt.Errorf("%w: flags or a listener", ErrUnsupported)
	}
	def, err := action(f.DefaultAction, f.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	// The ABIs: the native one first (libseccomp always has it), then
	// the listed ones. x32 is not modelled: the go-seccomp-bpf table
	// names some of its calls twice (their x86_64 and x32 numbers), and
	// hoist lists it only on the rare kernels that have the ABI.
	native, ok := nativeArch()
	if !ok {
		return nil, fmt.Errorf("%w: no system call table for this machine", ErrUnsupported)
	}
	arches := []specs.Arch{native}
	for _, a := range f.Architectures {
		if _, ok := abis[a]; !ok {
			return nil, fmt.Errorf("%w: no system call table for %s", ErrUnsupported, a)
		}
		if !slices.Contains(arches, a) {
			arches = append(arches, a)
		}
	}

	var c compiler
	// Dispatch on the audit architecture; anything else is killed.
	c.emit(bpf.LoadAbsolute{Off: offArch, Size: 4})
	var bodies [][]bpf.Instruction
	for _, a := range arches {
		body, err := abiBody(f, a, def)
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, body)
	}
	// Each dispatch entry: jeq arch, 0, 1; ja body. The bodies follow
	// the final kill in the order of the entries.
	n := len(arches)
	skip := 2*(n-1) + 1 // from after the first entry's ja to its body
	for i, a := range arches {
		c.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(abis[a].info.ID), SkipTrue: 0, SkipFalse: 1})
		c.emit(bpf.Jump{Skip: uint32(skip)})
		skip += len(bodies[i]) - 2
	}
	c.emit(bpf.RetConstant{Val: retKillThread})
	for _, b := range bodies {
		c.emit(b...)
	}
	if len(c.prog) > maxInstructions {
		return nil, fmt.Errorf("%w: %d instructions, more than the kernel's %d", ErrUnsupported, len(c.prog), maxInstructions)
	}
	return c.prog, nil
}

// abiBody is the program of one audit architecture: load the system call
// number, then one block per system call that has rules, then the
// default action. On x86_64 the x32 calls (which share its audit
// architecture) are killed first: x32 is never listed here.
func abiBody(f *specs.LinuxSeccomp, a specs.Arch, def uint32) ([]bpf.Instruction, error) {
	var c compiler
	c.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	if a == specs.ArchX86_64 {
		c.jumpUnless(bpf.JumpGreaterOrEqual, x32Bit, 1)
		c.emit(bpf.RetConstant{Val: retKillThread})
	}
	body, err := callBlocks(f, abis[a], def)
	if err != nil {
		return nil, err
	}
	c.emit(body...)
	return c.prog, nil
}

// rule is one rule of one system call on one ABI.
type rule struct {
	action uint32
	args   []specs.LinuxSeccompArg // all must hold; none: always
}

// callBlocks are the checks of every system call of the ABI that has
// rules, ending in the default action; the number is in A.
func callBlocks(f *specs.LinuxSeccomp, x abi, def uint32) ([]bpf.Instruction, error) {
	rules := map[uint32][]rule{}
	var order []uint32
	for _, sc := range f.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, err
		}
		for _, name := range sc.Names {
			nr, ok := x.info.SyscallNames[name]
			if !ok {
				continue // not a call of this ABI: left out, as the runtimes do
			}
			k := uint32(nr | x.info.SeccompMask)
			if _, seen := rules[k]; !seen {
				order = append(order, k)
			}
			for _, r := range splitRule(sc.Args) {
				if err := checkArgs(r); err != nil {
					return nil, err
				}
				rules[k] = append(rules[k], rule{action: act, args: r})
			}
		}
	}
	var c compiler
	for _, nr := range order {
		body := callBody(rules[nr], def, x.bits32)
		c.jumpUnless(bpf.JumpEqual, nr, len(body))
		c.emit(body...)
	}
	c.emit(bpf.RetConstant{Val: def})
	return c.prog, nil
}

// splitRule is the runtimes' reading of a rule's conditions: all of them
// at once, unless one argument is compared more than once; then each
// comparison is a rule of its own.
func splitRule(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			out := make([][]specs.LinuxSeccompArg, len(args))
			for i := range args {
				out[i] = args[i : i+1]
			}
			return out
		}
		seen[a.Index] = true
	}
	return [][]specs.LinuxSeccompArg{args}
}

func checkArgs(args []specs.LinuxSeccompArg) error {
	for _, a := range args {
		if a.Index > 5 {
			return fmt.Errorf("seccomp: argument index %d out of range", a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
			specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		default:
			return fmt.Errorf("%w: comparison %q", ErrUnsupported, a.Op)
		}
	}
	return nil
}

// callBody decides one system call (every path returns): an
// unconditional rule decides; else the first rule whose conditions hold;
// else the default.
func callBody(rules []rule, def uint32, bits32 bool) []bpf.Instruction {
	for _, r := range rules {
		if len(r.args) == 0 {
			return []bpf.Instruction{bpf.RetConstant{Val: r.action}}
		}
	}
	var c compiler
	for _, r := range rules {
		// Each condition jumps to "fail" (the next rule) when it does not
		// hold; all holding reaches the rule's return.
		var blk compiler
		var fails []int // indexes of jumps to patch to the block's end
		for _, a := range r.args {
			blk.cond(a, bits32, &fails)
		}
		blk.emit(bpf.RetConstant{Val: r.action})
		blk.patchFails(fails)
		c.emit(blk.prog...)
	}
	c.emit(bpf.RetConstant{Val: def})
	return c.prog
}

// compiler accumulates instructions.
type compiler struct {
	prog []bpf.Instruction
}

func (c *compiler) emit(in ...bpf.Instruction) { c.prog = append(c.prog, in...) }

// jumpUnless emits: if !(A cond k) skip the next n instructions, as one
// conditional jump when n fits its 8 bits, else with a long jump.
func (c *compiler) jumpUnless(cond bpf.JumpTest, k uint32, n int) {
	if n <= 255 {
		c.emit(bpf.JumpIf{Cond: cond, Val: k, SkipFalse: uint8(n)})
		return
	}
	c.emit(bpf.JumpIf{Cond: cond, Val: k, SkipTrue: 1}, bpf.Jump{Skip: uint32(n)})
}

// A comparison's failing jumps are emitted with a placeholder target and
// patched once the rule's block is complete: they go to its end.
const failMark = 0xff

// cond emits the check of one argument comparison; the jumps taken when
// it fails are recorded in fails.
func (c *compiler) cond(a specs.LinuxSeccompArg, bits32 bool, fails *[]int) {
	lo, hi := uint32(a.Value), uint32(a.Value>>32)
	lo2, hi2 := uint32(a.ValueTwo), uint32(a.ValueTwo>>32)
	ldLo := bpf.LoadAbsolute{Off: offArgs + 8*uint32(a.Index), Size: 4}
	ldHi := bpf.LoadAbsolute{Off: offArgs + 8*uint32(a.Index) + 4, Size: 4}
	// fail emits a jump taken to the failure when the test is true/false.
	failIf := func(cond bpf.JumpTest, k uint32) {
		*fails = append(*fails, len(c.prog))
		c.emit(bpf.JumpIf{Cond: cond, Val: k, SkipTrue: failMark})
	}
	// passIf jumps over the rest of this comparison (n instructions)
	// when the test holds.
	passIf := func(cond bpf.JumpTest, k uint32, n int) {
		c.emit(bpf.JumpIf{Cond: cond, Val: k, SkipTrue: uint8(n)})
	}
	if bits32 {
		c.emit(ldLo)
		switch a.Op {
		case specs.OpEqualTo:
			failIf(bpf.JumpNotEqual, lo)
		case specs.OpNotEqual:
			failIf(bpf.JumpEqual, lo)
		case specs.OpLessThan:
			failIf(bpf.JumpGreaterOrEqual, lo)
		case specs.OpLessEqual:
			failIf(bpf.JumpGreaterThan, lo)
		case specs.OpGreaterThan:
			failIf(bpf.JumpLessOrEqual, lo)
		case specs.OpGreaterEqual:
			failIf(bpf.JumpLessThan, lo)
		case specs.OpMaskedEqual:
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: lo})
			failIf(bpf.JumpNotEqual, lo2)
		}
		return
	}
	switch a.Op {
	case specs.OpEqualTo:
		c.emit(ldHi)
		failIf(bpf.JumpNotEqual, hi)
		c.emit(ldLo)
		failIf(bpf.JumpNotEqual, lo)
	case specs.OpNotEqual:
		// Holds when either half differs.
		c.emit(ldHi)
		passIf(bpf.JumpNotEqual, hi, 2)
		c.emit(ldLo)
		failIf(bpf.JumpEqual, lo)
	case specs.OpMaskedEqual:
		c.emit(ldHi, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: hi})
		failIf(bpf.JumpNotEqual, hi2)
		c.emit(ldLo, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: lo})
		failIf(bpf.JumpNotEqual, lo2)
	default:
		// Ordered comparisons: the high halves decide unless equal.
		var strictHi, failLo bpf.JumpTest
		switch a.Op {
		case specs.OpGreaterThan:
			strictHi, failLo = bpf.JumpGreaterThan, bpf.JumpLessOrEqual
		case specs.OpGreaterEqual:
			strictHi, failLo = bpf.JumpGreaterThan, bpf.JumpLessThan
		case specs.OpLessThan:
			strictHi, failLo = bpf.JumpLessThan, bpf.JumpGreaterOrEqual
		case specs.OpLessEqual:
			strictHi, failLo = bpf.JumpLessThan, bpf.JumpGreaterThan
		}
		c.emit(ldHi)
		passIf(strictHi, hi, 3)      // high half decides: holds
		failIf(bpf.JumpNotEqual, hi) // high half decides: fails
		c.emit(ldLo)                 // equal high halves: the low ones decide
		failIf(failLo, lo)
	}
}

// patchFails points the recorded failing jumps at the end of the block.
func (c *compiler) patchFails(fails []int) {
	end := len(c.prog)
	for _, i := range fails {
		j := c.prog[i].(bpf.JumpIf)
		j.SkipTrue = uint8(end - i - 1)
		c.prog[i] = j
	}
}

// action is the kernel's return value for a runtime-spec action.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := func(def uint32) uint32 {
		if errnoRet != nil {
			return uint32(*errnoRet) & 0xffff
		}
		return def
	}
	switch a {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | errno(eperm), nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | errno(0), nil
	case specs.ActLog:
		return retLog, nil
	}
	return 0, fmt.Errorf("%w: action %q", ErrUnsupported, a)
}
