package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Help in docker's shape: one usage line ("Usage:  hoist run [OPTIONS]
// IMAGE [COMMAND] [ARG...]", no cobra "[flags]" after it), the root's
// commands grouped as docker groups them (common, management, the rest),
// "Options:" and "Global Options:", and the closing hint.

// commonVerbs are docker's "Common Commands", in its order.
var commonVerbs = []string{"run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search", "version", "info"}

// managementVerbs are the commands that group others.
var managementVerbs = []string{"builder", "container", "image", "network", "registry", "system", "volume"}

const usageTemplate = `Usage:{{if .Runnable}}  {{.UseLine}}{{end}}{{if and (not .Runnable) .HasAvailableSubCommands}}  {{.CommandPath}} COMMAND{{end}}
{{if .Short}}
{{.Short}}
{{end}}{{if gt (len .Aliases) 0}}
Aliases:
  {{aliasLine .}}
{{end}}{{if .HasExample}}
Examples:
{{.Example}}
{{end}}{{if .HasAvailableSubCommands}}{{if not .HasParent}}
Common Commands:
{{range commonCommands .}}  {{rpad .Name .NamePadding}} {{.Short}}
{{end}}
Management Commands:
{{range managementCommands .}}  {{rpad .Name .NamePadding}} {{.Short}}
{{end}}
Commands:
{{range otherCommands .}}  {{rpad .Name .NamePadding}} {{.Short}}
{{end}}{{else}}
Commands:
{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}  {{rpad .Name .NamePadding}} {{.Short}}
{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}
{{if .HasParent}}Options{{else}}Global Options{{end}}:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if and .HasParent .HasAvailableInheritedFlags}}
Global Options:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableSubCommands}}
Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{end}}`

func init() {
	cobra.AddTemplateFunc("aliasLine", func(c *cobra.Command) string {
		parent := ""
		if c.HasParent() {
			parent = c.Parent().CommandPath() + " "
		}
		names := []string{parent + c.Name()}
		for _, a := range c.Aliases {
			names = append(names, parent+a)
		}
		return strings.Join(names, ", ")
	})
	cobra.AddTemplateFunc("commonCommands", func(c *cobra.Command) []*cobra.Command {
		var out []*cobra.Command
		for _, n := range commonVerbs {
			if sub := findSub(c, n); sub != nil {
				out = append(out, sub)
			}
		}
		return out
	})
	cobra.AddTemplateFunc("managementCommands", func(c *cobra.Command) []*cobra.Command {
		return filterSubs(c, func(n string) bool { return slices.Contains(managementVerbs, n) })
	})
	cobra.AddTemplateFunc("otherCommands", func(c *cobra.Command) []*cobra.Command {
		return filterSubs(c, func(n string) bool {
			return !slices.Contains(managementVerbs, n) && !slices.Contains(commonVerbs, n)
		})
	})
}

func findSub(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name && s.IsAvailableCommand() {
			return s
		}
	}
	return nil
}

func filterSubs(c *cobra.Command, keep func(string) bool) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() && keep(s.Name()) {
			out = append(out, s)
		}
	}
	return out
}

// setHelp gives the command tree docker's help shape: every command's
// usage line without cobra's "[flags]", and the shared template.
func setHelp(root *cobra.Command) {
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate("{{.UsageString}}")
	root.CompletionOptions.HiddenDefaultCmd = true
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

// unknownCommand is an unknown verb, printed as docker prints it, with
// the closest verbs hoist has.
type unknownCommand struct {
	path        string // "hoist imagez"
	suggestions []string
}

func (e *unknownCommand) Error() string { return "unknown command: " + e.path }

func (e *unknownCommand) print(w io.Writer) {
	fmt.Fprintf(w, "hoist: unknown command: %s\n", e.path)
	if len(e.suggestions) > 0 {
		fmt.Fprintln(w, "\nDid you mean this?")
		for _, s := range e.suggestions {
			fmt.Fprintf(w, "\t%s\n", s)
		}
	}
	parent := e.path[:strings.LastIndex(e.path, " ")]
	fmt.Fprintf(w, "\nRun '%s --help' for more information\n", parent)
}

// asUnknownCommand turns cobra's unknown-command error for args into an
// unknownCommand (other errors pass through).
func asUnknownCommand(root *cobra.Command, args []string, err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "unknown command ") {
		return err
	}
	c, rest, ferr := root.Find(args)
	if ferr != nil || len(rest) == 0 {
		c, rest = root, args
	}
	word := commandWord(root.PersistentFlags(), rest)
	if word == "" {
		return err
	}
	c.SuggestionsMinimumDistance = 2
	return &unknownCommand{path: c.CommandPath() + " " + word, suggestions: c.SuggestionsFor(word)}
}
