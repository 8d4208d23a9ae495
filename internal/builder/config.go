package builder

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hoistproject/hoist/internal/images"
	"github.com/opencontainers/go-digest"
)

// The image config types are the image store's: one definition of docker's
// config JSON (field names, omitempty) for the store and the builder.
type (
	Config          = images.Config
	ContainerConfig = images.ContainerConfig
	HealthConfig    = images.HealthConfig
)

// parseConfig parses a base image's config blob. Docker's own top-level
// fields (comment, container, container_config, docker_version) describe
// how the base was made and are not inherited, as with BuildKit.
func parseConfig(b []byte) (*Config, error) {
	c, err := images.ParseConfig(b)
	if err != nil {
		return nil, err
	}
	c.Comment, c.Container, c.ContainerConfig, c.DockerVersion = "", "", nil, ""
	return c, nil
}

// cloneConfig returns a deep copy of c.
func cloneConfig(c *Config) *Config {
	n := *c
	n.Config.ExposedPorts = cloneSet(c.Config.ExposedPorts)
	n.Config.Volumes = cloneSet(c.Config.Volumes)
	n.Config.Env = slices.Clone(c.Config.Env)
	n.Config.Entrypoint = slices.Clone(c.Config.Entrypoint)
	n.Config.Cmd = slices.Clone(c.Config.Cmd)
	n.Config.OnBuild = slices.Clone(c.Config.OnBuild)
	n.Config.Shell = slices.Clone(c.Config.Shell)
	if c.Config.Labels != nil {
		n.Config.Labels = make(map[string]string, len(c.Config.Labels))
		for k, v := range c.Config.Labels {
			n.Config.Labels[k] = v
		}
	}
	if c.Config.Healthcheck != nil {
		h := *c.Config.Healthcheck
		h.Test = slices.Clone(h.Test)
		n.Config.Healthcheck = &h
	}
	n.RootFS.DiffIDs = slices.Clone(c.RootFS.DiffIDs)
	n.History = slices.Clone(c.History)
	return &n
}

func cloneSet(m map[string]struct{}) map[string]struct{} {
	if m == nil {
		return nil
	}
	n := make(map[string]struct{}, len(m))
	for k := range m {
		n[k] = struct{}{}
	}
	return n
}

// configBytes is the canonical JSON of c (encoding/json sorts map keys),
// whose digest is the image ID.
func configBytes(c *Config) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("marshal image config: %v", err)) // only plain types: cannot fail
	}
	return b
}

func configID(c *Config) digest.Digest { return digest.FromBytes(configBytes(c)) }

// historyComment is what BuildKit's Dockerfile frontend puts in the comment
// of every history entry it writes; hoist writes the same so `history`
// output matches docker's.
const historyComment = "buildkit.dockerfile.v0"
