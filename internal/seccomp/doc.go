// Package seccomp compiles a container's seccomp filter, as the runtime
// spec states it (linux.seccomp: a default action, architectures and
// rules on system calls and their arguments), to the classic BPF program
// the kernel runs on every system call.
//
// Why hoist compiles at all: the OCI runtimes do it with libseccomp in
// every container start, and for docker's default profile (about 370
// system calls on two ABIs) that costs runc and crun some 13 ms of a
// 40–55 ms `run --rm`. hoist compiles in a fraction of a millisecond and
// hands the program to crun (its run.oci.seccomp_bpf_data annotation, see
// internal/container/runtime), which then loads it as it is. runc has no
// such input and keeps compiling the spec's filter itself.
//
// The program has the meaning libseccomp gives the same filter (that is
// what runc and crun produce from the spec, and what docker runs):
//   - a system call made through an ABI that is not listed is killed
//     (libseccomp's default "bad arch" action); on x86_64 the x32 calls
//     (numbers with bit 30 set) are such an ABI;
//   - a system call whose name the ABI does not have is left out, as the
//     runtimes do;
//   - a rule without argument conditions decides for its system call;
//     otherwise the rules' conditions are tried in order and the first
//     whose comparisons all hold decides (a rule that compares the same
//     argument twice is split into one rule per comparison, as crun and
//     runc do); nothing matching means the default action;
//   - argument comparisons are on 64 bits on 64-bit ABIs and on the low
//     32 bits on 32-bit ones.
//
// A test (compile_test.go) checks this against libseccomp itself: both
// programs run in a BPF interpreter over every system call number of each
// ABI and every argument value the rules name, and must decide alike.
//
// Compile refuses what it does not model (notify actions, filter flags, a
// listener, ABIs other than x86_64 and x86: the tables of the others, from
// github.com/elastic/go-seccomp-bpf, differ from libseccomp's in places,
// e.g. aarch64's newfstatat, and x32's name some calls twice) with
// ErrUnsupported; the caller then leaves the compiling to the runtime.
package seccomp
