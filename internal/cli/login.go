package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/credentials"
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
	c, creds, err := e.engine().Registry()
	if err != nil {
		return err
	}
	defer c.Close()
	registry := client.RegistryName(server)
	key := credentials.ServerKey(registry)

	ac := credentials.AuthConfig{ServerAddress: key, Username: user, Password: pass}
	if user == "" && pass == "" {
		// docker first tries what is already stored
		if stored, err := creds.Get(ctx, registry); err == nil && !stored.Empty() {
			fmt.Fprintln(e.out, "Authenticating with existing credentials...")
			if got, err := c.Login(ctx, registry, toAuth(stored)); err == nil {
				return saveLogin(e, cmd, creds, key, stored.Username, stored.Password, got)
			} else if _, tty := e.inputTTY(); !tty {
				return e.daemonError(err)
			}
			ac.Username = stored.Username
		}
	}
	if ac.Username == "" || ac.Password == "" {
		if err := e.prompt(&ac, ac.Username); err != nil {
			return err
		}
	}
	got, err := c.Login(ctx, registry, toAuth(ac))
	if err != nil {
		if errors.Is(err, errdefs.ErrUnauthorized) || errors.Is(err, errdefs.ErrUnavailable) {
			return e.daemonError(err)
		}
		return err
	}
	return saveLogin(e, cmd, creds, key, ac.Username, ac.Password, got)
}

func toAuth(ac credentials.AuthConfig) auth.Credentials {
	return auth.Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
}

func saveLogin(e *env, cmd *cobra.Command, creds *credentials.File, key, user, pass string, got auth.Credentials) error {
	store := credentials.AuthConfig{ServerAddress: key, Username: user, Password: pass}
	if got.IdentityToken != "" {
		store.Password, store.IdentityToken = "", got.IdentityToken
	}
	helper, err := creds.Store(cmd.Context(), store)
	if err != nil {
		return fmt.Errorf("error saving credentials: %w", err)
	}
	if helper == "" && store.Password != "" {
		fmt.Fprintf(e.errOut, unencryptedWarning, creds.Path())
	}
	fmt.Fprintln(e.out, "Login Succeeded")
	return nil
}

// prompt asks for the username (defaulting to def) and the password on a
// terminal.
func (e *env) prompt(ac *credentials.AuthConfig, def string) error {
	fd, tty := e.inputTTY()
	if !tty {
		return errors.New("Cannot perform an interactive login from a non TTY device")
	}
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
