package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/images"
)

// CommitOptions are the options of Commit.
type CommitOptions struct {
	// Name is the new image's REPOSITORY[:TAG] ("" leaves it dangling).
	Name            string
	Author, Message string
	// Changes are Dockerfile instructions applied to the config.
	Changes []string
	// Pause pauses the container while its changes are read.
	Pause bool
}

// Commit creates an image from a container's changes, as docker commit
// does, and returns its ID.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (string, error) {
	name := ""
	if o.Name != "" {
		n, err := images.NormalizeName(o.Name)
		if err != nil {
			return "", err
		}
		name = n
	}
	m, err := e.containers()
	if err != nil {
		return "", err
	}
	st, err := e.images()
	if err != nil {
		return "", err
	}
	sink := func(ctx context.Context, c *container.Container, layer io.Reader) (string, error) {
		return commitLayer(ctx, st, c, layer, name, o)
	}
	return m.Commit(ctx, ref, container.CommitOptions{Pause: o.Pause}, sink)
}

// commitLayer stores layer on top of the container's image and records the
// new image: the container's configuration with changes applied, and a
// history entry, as docker commit does.
func commitLayer(ctx context.Context, st *images.Store, c *container.Container, layer io.Reader, name string, o CommitOptions) (string, error) {
	parent, err := st.Get(ctx, c.ImageID)
	if err != nil {
		return "", fmt.Errorf("image of container %s: %w", c.ID, err)
	}
	lctx, done, err := st.WithLease(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	cfg := *parent.Config
	diffIDs := cfg.RootFS.DiffIDs
	if layer != nil { // nil: nothing changed, no layer (docker's)
		// Only the blob is written now: the layer dir is unpacked on first use.
		l, err := st.CreateLayerFromTar(lctx, parent.Record.ChainID, layer)
		if err != nil {
			return "", fmt.Errorf("commit %s: %w", c.ID, err)
		}
		diffIDs = append(append([]digest.Digest{}, diffIDs...), l.DiffID)
	}
	cc := cfg.Config
	cc.Env, cc.Cmd, cc.Entrypoint = c.Config.Env, c.Config.Cmd, c.Config.Entrypoint
	cc.WorkingDir, cc.User, cc.Labels, cc.StopSignal = c.Config.WorkingDir, c.Config.User, c.Config.Labels, c.Config.StopSignal
	cc.ExposedPorts, cc.Volumes = c.Config.ExposedPorts, c.Config.Volumes
	if len(cc.Labels) == 0 {
		cc.Labels = nil
	}
	if err := images.ApplyChanges(&cc, o.Changes); err != nil {
		return "", err
	}
	cfg.Config = cc
	created := time.Now().UTC()
	cfg.Created = &created
	cfg.Author = o.Author
	cfg.Comment = o.Message
	// docker records the container and its configuration.
	cfg.Container = c.ID
	cfg.ContainerConfig = &images.InspectConfig{
		Hostname: c.Config.Hostname, Domainname: c.Config.Domainname, User: c.Config.User,
		ExposedPorts: c.Config.ExposedPorts, Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin,
		StdinOnce: c.Config.StdinOnce, Env: c.Config.Env, Cmd: c.Config.Cmd, Image: c.Config.Image,
		Volumes: c.Config.Volumes, WorkingDir: c.Config.WorkingDir, Entrypoint: c.Config.Entrypoint,
		Labels: c.Config.Labels, StopSignal: c.Config.StopSignal,
	}
	cfg.RootFS.DiffIDs = diffIDs
	cfg.History = append(append([]ocispec.History{}, cfg.History...), ocispec.History{
		Created: &created, CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
		Author: o.Author, Comment: o.Message, EmptyLayer: layer == nil,
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
