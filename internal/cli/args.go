package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// argsError prints docker's wrong-argument-count message and exits 1, as
// the docker CLI does:
//
//	"hoist tag" requires exactly 2 arguments.
//	See 'hoist tag --help'.
//
//	Usage:  hoist tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]
//
//	Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
func argsError(cmd *cobra.Command, what string) error {
	usage := cmd.Use
	if cmd.HasParent() {
		usage = cmd.Parent().CommandPath() + " " + cmd.Use
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%q requires %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s\n",
		cmd.CommandPath(), what, cmd.CommandPath(), usage, cmd.Short)
	return &StatusError{Code: 1}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// exactArgs is cobra.ExactArgs with docker's message.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, "exactly "+plural(n, "argument"))
	}
}

// minArgs is cobra.MinimumNArgs with docker's message.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, "at least "+plural(n, "argument"))
	}
}

// rangeArgs accepts between lo and hi arguments.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("at least %d and at most %s", lo, plural(hi, "argument")))
	}
}

// maxArgs is cobra.MaximumNArgs with docker's message.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsError(cmd, "at most "+plural(n, "argument"))
	}
}
