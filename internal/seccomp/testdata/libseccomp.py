# Compiles a runtime-spec seccomp filter (JSON, argv[1]) with libseccomp,
# as runc and crun do, and writes the BPF program to argv[2]; names
# libseccomp does not know are printed on stdout, one per line.
import json
import sys

import seccomp

p = json.load(open(sys.argv[1]))


def act(a, errno=None):
    if a == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if a == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(1 if errno is None else errno)
    if a in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return seccomp.KILL
    if a == "SCMP_ACT_KILL_PROCESS":
        return seccomp.KILL_PROCESS
    if a == "SCMP_ACT_TRAP":
        return seccomp.TRAP
    if a == "SCMP_ACT_LOG":
        return seccomp.LOG
    if a == "SCMP_ACT_TRACE":
        return seccomp.TRACE(errno or 0)
    raise ValueError(a)


ops = {
    "SCMP_CMP_EQ": seccomp.EQ, "SCMP_CMP_NE": seccomp.NE,
    "SCMP_CMP_LT": seccomp.LT, "SCMP_CMP_LE": seccomp.LE,
    "SCMP_CMP_GT": seccomp.GT, "SCMP_CMP_GE": seccomp.GE,
    "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
}
arches = {
    "SCMP_ARCH_X86_64": seccomp.Arch.X86_64, "SCMP_ARCH_X86": seccomp.Arch.X86,
    "SCMP_ARCH_X32": seccomp.Arch.X32, "SCMP_ARCH_AARCH64": seccomp.Arch.AARCH64,
    "SCMP_ARCH_ARM": seccomp.Arch.ARM,
}


def arg(x):
    if x["op"] == "SCMP_CMP_MASKED_EQ":
        return seccomp.Arg(x["index"], ops[x["op"]], x.get("value", 0), x.get("valueTwo", 0))
    return seccomp.Arg(x["index"], ops[x["op"]], x.get("value", 0))


def split(args):
    # One rule per comparison when an argument is compared twice (runc, crun).
    idx = [a["index"] for a in args]
    if len(set(idx)) != len(idx):
        return [[a] for a in args]
    return [args]


f = seccomp.SyscallFilter(act(p["defaultAction"], p.get("defaultErrnoRet")))
for a in p.get("architectures") or []:
    if not f.exist_arch(arches[a]):
        f.add_arch(arches[a])
unknown = set()
for s in p["syscalls"]:
    a = act(s["action"], s.get("errnoRet"))
    for n in s["names"]:
        for r in split(s.get("args") or []):
            try:
                f.add_rule(a, n, *[arg(x) for x in r])
            except RuntimeError as e:
                if "-22" not in str(e):  # EINVAL: a name it does not know
                    raise
                unknown.add(n)
with open(sys.argv[2], "wb") as o:
    f.export_bpf(o)
for n in sorted(unknown):
    print(n)
