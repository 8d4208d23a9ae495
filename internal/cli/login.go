package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const unencryptedWarning = `WARNING! Your password will be stored unencrypted in %s.
Configure a credential helper to remove this warning. See
https://docs.docker.com/engine/reference/commandline/login/#credentials-store

`

func newLoginCmd(e *env) *cobra.Command {
	var user, pass string
	var passStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Long:  "Log in to a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			return runLogin(e, cmd, server, user, pass, passStdin)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "Username")
	f.StringVarP(&pass, "password", "p", "", "Password")
	f.BoolVar(&passStdin, "password-stdin", false, "Take the password from stdin")
	return cmd
}

func runLogin(e *env, cmd *cobra.Command, server, user, pass string, passStdin bool) error {
	ctx := cmd.Context()
	if pass != "" {
		fmt.Fprintln(e.errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		if passStdin {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
	}
	if passStdin {
		if user == "" {
			return errors.New("Must provide --username with --password-stdin")
		}
		b, err := io.ReadAll(e.in)
		if err != nil {
			return err
		}
		pass = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	o := engine.LoginOptions{Server: server, Username: user, Password: pass, Status: e.out}
	if _, tty := e.inputTTY(); tty {
		o.Prompt = e.prompt
	}
	res, err := e.engine().Login(ctx, o)
	var re *engine.RegistryError
	if errors.As(err, &re) {
		se := &shapedErr{err: re.Err, daemon: true}
		if errors.Is(re.Err, errdefs.ErrUnauthorized) {
			se.hint = "hoist: wrong username or password for " + engine.RegistryName(server)
		}
		return se
	}
	if err != nil {
		return err
	}
	if res.Plain {
		fmt.Fprintf(e.errOut, unencryptedWarning, res.Path)
	}
	fmt.Fprintln(e.out, "Login Succeeded")
	return nil
}

// prompt asks for the username (defaulting to def) and the password on
// the terminal of stdin.
func (e *env) prompt(ac *engine.AuthConfig, def string) error {
	fd, _ := e.inputTTY()
	rd := bufio.NewReader(e.in)
	if def != "" {
		fmt.Fprintf(e.out, "Username (%s): ", def)
	} else {
		fmt.Fprint(e.out, "Username: ")
	}
	line, err := rd.ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("reading username: %w", err)
	}
	if u := strings.TrimSpace(line); u != "" {
		ac.Username = u
	} else {
		ac.Username = def
	}
	if ac.Username == "" {
		return errors.New("Non-null Username Required")
	}
	fmt.Fprint(e.out, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(e.out)
	if err != nil {
		return fmt.Errorf("reading password: %w", err)
	}
	ac.Password = string(pw)
	if ac.Password == "" {
		return errors.New("Password Required")
	}
	return nil
}
