package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/images"
)

func newCommitCmd(e *env) *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	c := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				n, err := images.NormalizeName(args[1])
				if err != nil {
					return err
				}
				name = n
			}
			m, err := e.containers()
			if err != nil {
				return err
			}
			st, err := e.imageStore()
			if err != nil {
				return err
			}
			sink := func(ctx context.Context, c *container.Container, layer io.Reader) (string, error) {
				return commitLayer(ctx, st, c, layer, name, author, message, changes)
			}
			id, err := m.Commit(cmd.Context(), args[0], container.CommitOptions{Pause: pause}, sink)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, id)
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fs.StringVarP(&message, "message", "m", "", "Commit message")
	fs.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fs.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return c
}

// commitLayer stores layer on top of the container's image and records the
// new image: the container's configuration with changes applied, and a
// history entry, as docker commit does.
func commitLayer(ctx context.Context, st *images.Store, c *container.Container, layer io.Reader, name, author, message string, changes []string) (string, error) {
	parent, err := st.Get(ctx, c.ImageID)
	if err != nil {
		return "", fmt.Errorf("image of container %s: %w", c.ID, err)
	}
	lctx, done, err := st.DB().WithLease(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	// Only the blob is written now: the layer dir is unpacked on first use.
	l, err := st.Layers().CreateFromTar(lctx, parent.Record.ChainID, layer)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.ID, err)
	}
	cfg := *parent.Config
	cc := cfg.Config
	cc.Env, cc.Cmd, cc.Entrypoint = c.Config.Env, c.Config.Cmd, c.Config.Entrypoint
	cc.WorkingDir, cc.User, cc.Labels, cc.StopSignal = c.Config.WorkingDir, c.Config.User, c.Config.Labels, c.Config.StopSignal
	cc.ExposedPorts, cc.Volumes = c.Config.ExposedPorts, c.Config.Volumes
	if len(cc.Labels) == 0 {
		cc.Labels = nil
	}
	if err := images.ApplyChanges(&cc, changes); err != nil {
		return "", err
	}
	cfg.Config = cc
	created := time.Now().UTC()
	cfg.Created = &created
	cfg.Author = author
	cfg.Comment = message
	cfg.RootFS.DiffIDs = append(append([]digest.Digest{}, cfg.RootFS.DiffIDs...), l.DiffID)
	cfg.History = append(append([]ocispec.History{}, cfg.History...), ocispec.History{
		Created: &created, CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
		Author: author, Comment: message,
	})
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	n := images.NewImage{Config: raw, Parent: parent.Record.ID}
	if name != "" {
		n.Names = []string{name}
	}
	img, err := st.Create(lctx, n)
	if err != nil {
		return "", err
	}
	return img.Record.ID.String(), nil
}
