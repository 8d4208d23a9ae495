// Command hoist is a daemonless, Docker-compatible container image engine.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/hoistproject/hoist/internal/cli"
)

func main() {
	// HOIST_CPUPROFILE=FILE writes a CPU profile of the command (for
	// `go tool pprof`): where a verb's time goes, measured.
	if p := os.Getenv("HOIST_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}
