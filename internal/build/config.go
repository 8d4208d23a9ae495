package build

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ContainerConfig is the runtime part of an image config with docker's
// extensions and JSON field names.
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

// HealthConfig is docker's healthcheck (durations in nanoseconds).
type HealthConfig struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Config is an image config (OCI fields plus docker's).
type Config struct {
	Created      *time.Time        `json:"created,omitempty"`
	Author       string            `json:"author,omitempty"`
	Architecture string            `json:"architecture"`
	Variant      string            `json:"variant,omitempty"`
	OS           string            `json:"os"`
	Config       ContainerConfig   `json:"config"`
	RootFS       ocispec.RootFS    `json:"rootfs"`
	History      []ocispec.History `json:"history,omitempty"`
}

func parseConfig(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errdefs.InvalidArgumentf("invalid image config: %v", err)
	}
	if c.RootFS.Type == "" {
		c.RootFS.Type = "layers"
	}
	return &c, nil
}

// clone returns a deep copy of c.
func (c *Config) clone() *Config {
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

// bytes is the canonical JSON of c (encoding/json sorts map keys), whose
// digest is the image ID.
func (c *Config) bytes() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("marshal image config: %v", err)) // only plain types: cannot fail
	}
	return b
}

func (c *Config) id() digest.Digest { return digest.FromBytes(c.bytes()) }

// getEnv returns the value of key in KEY=VALUE pairs.
func getEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

// setEnv sets key in env in place of an existing entry, else appends.
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// historyComment is what BuildKit's Dockerfile frontend puts in the comment
// of every history entry it writes; hoist writes the same so `history`
// output matches docker's.
const historyComment = "buildkit.dockerfile.v0"
