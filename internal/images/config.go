package images

import (
	"encoding/json"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxConfigSize bounds config blobs read into memory.
const MaxConfigSize = 8 << 20

// ContainerConfig is the runtime part of an image config, with docker's
// extensions (Healthcheck, OnBuild, Shell) and docker's JSON field names.
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

// HealthConfig is docker's healthcheck configuration (durations in ns).
type HealthConfig struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Config is an image config blob (OCI image config plus docker's fields).
// The stored bytes are kept as they are; this is only their parsed view.
type Config struct {
	Created      *time.Time        `json:"created,omitempty"`
	Author       string            `json:"author,omitempty"`
	Architecture string            `json:"architecture"`
	Variant      string            `json:"variant,omitempty"`
	OS           string            `json:"os"`
	OSVersion    string            `json:"os.version,omitempty"`
	OSFeatures   []string          `json:"os.features,omitempty"`
	Config       ContainerConfig   `json:"config"`
	RootFS       ocispec.RootFS    `json:"rootfs"`
	History      []ocispec.History `json:"history,omitempty"`
	// Docker-only fields.
	Comment         string         `json:"comment,omitempty"`
	Container       string         `json:"container,omitempty"`
	ContainerConfig *InspectConfig `json:"container_config,omitempty"`
	DockerVersion   string         `json:"docker_version,omitempty"`
}

// ParseConfig parses and validates a config blob.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errdefs.InvalidArgumentf("invalid image config: %v", err)
	}
	if c.RootFS.Type != "layers" {
		return nil, errdefs.InvalidArgumentf("invalid image config: rootfs.type is %q, want \"layers\"", c.RootFS.Type)
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return nil, errdefs.InvalidArgumentf("invalid image config: rootfs.diff_ids[%d] %q: %v", i, d, err)
		}
	}
	// os and architecture may be empty (unknown), as docker, podman and
	// skopeo accept them: inspect shows them empty, as docker does.
	return &c, nil
}

// ConfigDescriptor describes config bytes as a blob.
func ConfigDescriptor(b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(b), Size: int64(len(b))}
}
