package spec

import (
	"sync"

	"golang.org/x/sys/unix"
)

// x32Supported reports whether the kernel runs x32-ABI system calls: an
// x32 getpid (the x32 bit, 0x40000000, on getpid's number) answers ENOSYS
// on a kernel built or booted without the x32 ABI.
var x32Supported = sync.OnceValue(func() bool {
	const x32Bit = 0x40000000
	_, _, errno := unix.RawSyscall(x32Bit|unix.SYS_GETPID, 0, 0, 0)
	return errno != unix.ENOSYS
})
