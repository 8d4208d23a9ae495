package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// exactArgs is cobra.ExactArgs with docker's message and exit status 125
// ("docker tag" requires exactly 2 arguments.).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		plural := "s"
		if n == 1 {
			plural = ""
		}
		return &flagError{cmd: cmd.CommandPath(), err: fmt.Errorf("%q requires exactly %d argument%s.\nUsage:  %s", cmd.CommandPath(), n, plural, cmd.UseLine())}
	}
}

// minArgs is cobra.MinimumNArgs with docker's message and exit status 125.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		plural := "s"
		if n == 1 {
			plural = ""
		}
		return &flagError{cmd: cmd.CommandPath(), err: fmt.Errorf("%q requires at least %d argument%s.\nUsage:  %s", cmd.CommandPath(), n, plural, cmd.UseLine())}
	}
}

// rangeArgs accepts between lo and hi arguments.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return &flagError{cmd: cmd.CommandPath(), err: fmt.Errorf("%q requires at least %d and at most %d arguments.\nUsage:  %s", cmd.CommandPath(), lo, hi, cmd.UseLine())}
	}
}
