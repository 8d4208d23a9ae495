package container

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/container/health"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/rootless"
	"github.com/hoistproject/hoist/internal/units"
)

// Image is what a container needs from the image store.
type Image struct {
	ID        string        // image ID (sha256:<hex> of its config)
	Ref       string        // the reference the user gave, normalised
	Config    ocispec.Image // the image config
	LowerDirs []string      // unpacked layer dirs, BOTTOM first
	ChainIDs  []string      // the layers' chain IDs, bottom first (kept from GC while the container exists)
	// Healthcheck is the image's HEALTHCHECK (docker's extension of the
	// config), nil when it has none.
	Healthcheck *HealthConfig
}

// HealthConfig is a healthcheck (package health).
type HealthConfig = health.Config

// Health is a running container's health (docker's State.Health).
type Health = health.Status

// ImageResolver finds an image by reference or ID.
type ImageResolver interface {
	ResolveImage(ctx context.Context, ref string) (Image, error)
}

// Config is the container's configuration as the user asked for it (docker's
// container Config and HostConfig, flattened to what hoist supports).
type Config struct {
	Hostname      string              `json:"Hostname"`
	Domainname    string              `json:"Domainname,omitempty"`
	User          string              `json:"User"`
	Env           []string            `json:"Env"` // user's -e, merged over the image's at create
	Cmd           []string            `json:"Cmd"`
	Entrypoint    []string            `json:"Entrypoint"`
	EntrypointSet bool                `json:"-"`
	WorkingDir    string              `json:"WorkingDir"`
	Tty           bool                `json:"Tty"`
	OpenStdin     bool                `json:"OpenStdin"`
	StdinOnce     bool                `json:"StdinOnce"`
	Labels        map[string]string   `json:"Labels"`
	StopSignal    string              `json:"StopSignal,omitempty"`
	StopTimeout   *int                `json:"StopTimeout,omitempty"`
	ExposedPorts  map[string]struct{} `json:"ExposedPorts,omitempty"`
	Healthcheck   *HealthConfig       `json:"Healthcheck,omitempty"`
	Volumes       map[string]struct{} `json:"Volumes,omitempty"`
	Image         string              `json:"Image"`
}

// HostConfig is the host-side configuration (docker's HostConfig subset).
type HostConfig struct {
	Binds          []string              `json:"Binds"`                     // -v HOST:CTR[:ro] and NAME:CTR
	PortBindings   []network.PortBinding `json:"PortBindingList,omitempty"` // -p, as asked (docker's map form is inspect's)
	PublishAll     bool                  `json:"PublishAllPorts"`
	NetworkMode    string                `json:"NetworkMode"` // bridge (default), none, host
	ReadonlyRootfs bool                  `json:"ReadonlyRootfs"`
	Init           bool                  `json:"Init"`
	AutoRemove     bool                  `json:"AutoRemove"`
	Memory         int64                 `json:"Memory"`
	NanoCPUs       int64                 `json:"NanoCpus"`
	CPUShares      int64                 `json:"CpuShares"`
	PidsLimit      int64                 `json:"PidsLimit"`
	Ulimits        []spec.Ulimit         `json:"Ulimits"`
	SecurityOpt    []string              `json:"SecurityOpt"`
	Runtime        string                `json:"Runtime"`
	RestartPolicy  RestartPolicy         `json:"RestartPolicy"`
	// docker's --tmpfs (path -> options), --cap-add/--cap-drop,
	// --group-add, --shm-size, --add-host, --dns*, --cidfile
	Tmpfs           map[string]string `json:"Tmpfs,omitempty"`
	CapAdd          []string          `json:"CapAdd,omitempty"`
	CapDrop         []string          `json:"CapDrop,omitempty"`
	GroupAdd        []string          `json:"GroupAdd,omitempty"`
	ShmSize         int64             `json:"ShmSize,omitempty"`
	ExtraHosts      []string          `json:"ExtraHosts,omitempty"`
	Links           []string          `json:"Links,omitempty"` // --link NAME:ALIAS (names resolved at create)
	DNS             []string          `json:"Dns,omitempty"`
	DNSSearch       []string          `json:"DnsSearch,omitempty"`
	DNSOptions      []string          `json:"DnsOptions,omitempty"`
	ContainerIDFile string            `json:"ContainerIDFile,omitempty"`
	// docker's --privileged, --pid/--ipc/--uts host and more cgroup limits
	Privileged        bool   `json:"Privileged,omitempty"`
	PidMode           string `json:"PidMode,omitempty"`
	IpcMode           string `json:"IpcMode,omitempty"`
	UTSMode           string `json:"UTSMode,omitempty"`
	MemorySwap        int64  `json:"MemorySwap,omitempty"`
	MemoryReservation int64  `json:"MemoryReservation,omitempty"`
	CpusetCpus        string `json:"CpusetCpus,omitempty"`
	CpusetMems        string `json:"CpusetMems,omitempty"`
	CPUPeriod         int64  `json:"CpuPeriod,omitempty"`
	CPUQuota          int64  `json:"CpuQuota,omitempty"`
	OomKillDisable    bool   `json:"OomKillDisable,omitempty"`
	// docker's --device, --sysctl, --volumes-from, --oom-score-adj,
	// --memory-swappiness (nil: unset), --cgroup-parent, --cgroupns
	// (host, private) and --userns (host or "").
	Devices          []spec.DeviceMapping `json:"Devices,omitempty"`
	Sysctls          map[string]string    `json:"Sysctls,omitempty"`
	VolumesFrom      []string             `json:"VolumesFrom,omitempty"`
	OomScoreAdj      int                  `json:"OomScoreAdj,omitempty"`
	MemorySwappiness *int64               `json:"MemorySwappiness,omitempty"`
	CgroupParent     string               `json:"CgroupParent,omitempty"`
	CgroupnsMode     string               `json:"CgroupnsMode,omitempty"`
	UsernsMode       string               `json:"UsernsMode,omitempty"`
	// LogConfig is docker's --log-driver (json-file or none) and --log-opt
	// (max-size, max-file).
	LogConfig LogConfig `json:"LogConfig"`
}

// LogConfig is a container's logging: Type "" is json-file.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// MountPoint is a volume or bind mount of the container (inspect's Mounts).
type MountPoint struct {
	Type        string `json:"Type"` // bind or volume
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	RW          bool   `json:"RW"`
	Anonymous   bool   `json:"Anonymous,omitempty"` // an image VOLUME's (removed with the container by rm -v / --rm)
	// Propagation is a bind's mount propagation (docker's default,
	// rprivate, when empty); volumes have none.
	Propagation string `json:"Propagation,omitempty"`
	// NoCopy: the volume is not filled from the image (-v ...:nocopy,
	// --mount volume-nocopy).
	NoCopy bool `json:"NoCopy,omitempty"`
}

// Container is the persistent record of one container (container.json).
type Container struct {
	ID          string                `json:"Id"`
	Name        string                `json:"Name"` // without the leading "/"
	Created     time.Time             `json:"Created"`
	Path        string                `json:"Path"` // resolved entrypoint+cmd
	Args        []string              `json:"Args"`
	ImageID     string                `json:"Image"`
	ImageRef    string                `json:"ImageRef"`
	ImageConfig ocispec.ImageConfig   `json:"ImageConfig"`
	LowerDirs   []string              `json:"LowerDirs"` // bottom first
	ChainIDs    []string              `json:"ChainIDs,omitempty"`
	Storage     string                `json:"Storage,omitempty"` // StorageOverlay ("") or StorageCopy
	Config      Config                `json:"Config"`
	HostConfig  HostConfig            `json:"HostConfig"`
	Mounts      []MountPoint          `json:"Mounts"`
	Ports       []network.PortBinding `json:"Ports"` // resolved port bindings (-p and -P)

	State State `json:"-"` // loaded from state.json
	dir   string
	// held is the container's lock, still held after CreateOptions.Hold
	// until the start that consumes it (or Release).
	held *os.File
}

// Status values, as docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusDead       = "dead"
	StatusRemoving   = "removing"
)

// State is the mutable runtime state of a container (state.json).
type State struct {
	Status       string    `json:"Status"`
	Pid          int       `json:"Pid"`
	MonitorPid   int       `json:"MonitorPid"`
	MonitorStart uint64    `json:"MonitorStart"`     // start time of the monitor (pid reuse guard)
	NetPid       int       `json:"NetPid,omitempty"` // slirp4netns (bridge network)
	ExitCode     int       `json:"ExitCode"`
	Error        string    `json:"Error"`
	OOMKilled    bool      `json:"OOMKilled"`
	StartedAt    time.Time `json:"StartedAt"`
	FinishedAt   time.Time `json:"FinishedAt"`
	Health       *Health   `json:"Health,omitempty"`
	// RestartCount is how many times the monitor restarted the process
	// since the user's last start (restart policy).
	RestartCount int `json:"RestartCount,omitempty"`
}

// Running reports whether the container is running, paused or
// restarting (docker counts a container waiting to be restarted as
// running: stop, rm and ps treat it so).
func (s State) Running() bool {
	return s.Status == StatusRunning || s.Status == StatusPaused || s.Status == StatusRestarting
}

// StatusText is docker ps's STATUS column ("Up 5 seconds (healthy)",
// "Exited (0) 2 minutes ago", "Created").
func (c *Container) StatusText() string {
	st := c.State
	switch st.Status {
	case StatusRunning:
		up := "Up " + units.HumanDuration(time.Since(st.StartedAt))
		if h := st.Health; h != nil {
			if h.Status == HealthStarting {
				return up + " (health: starting)"
			}
			return up + " (" + h.Status + ")"
		}
		return up
	case StatusPaused:
		return "Up " + units.HumanDuration(time.Since(st.StartedAt)) + " (Paused)"
	case StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case StatusCreated:
		return "Created"
	}
	return st.Status
}

// Dir is the container's directory.
func (c *Container) Dir() string { return c.dir }

// PortsString renders published ports like `docker ps` (0.0.0.0:8080->80/tcp).
func (c *Container) PortsString() string {
	var out []string
	for _, p := range c.Ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.HostPort, p.ContainerPort, p.Proto))
	}
	if len(c.Ports) == 0 {
		for p := range c.Config.ExposedPorts {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// limits are the cgroup resource limits of hc, by docker's flags (rootless
// hoist refuses them without a delegated cgroup hierarchy).
func (hc *HostConfig) limits() []rootless.Limit {
	return []rootless.Limit{
		{Flag: "--memory", Set: hc.Memory > 0}, {Flag: "--memory-swap", Set: hc.MemorySwap > 0},
		{Flag: "--memory-reservation", Set: hc.MemoryReservation > 0}, {Flag: "--cpus", Set: hc.NanoCPUs > 0},
		{Flag: "--cpu-shares", Set: hc.CPUShares > 0}, {Flag: "--cpu-period", Set: hc.CPUPeriod > 0},
		{Flag: "--cpu-quota", Set: hc.CPUQuota > 0}, {Flag: "--cpuset-cpus", Set: hc.CpusetCpus != ""},
		{Flag: "--cpuset-mems", Set: hc.CpusetMems != ""}, {Flag: "--pids-limit", Set: hc.PidsLimit > 0},
		{Flag: "--oom-kill-disable", Set: hc.OomKillDisable}, {Flag: "--cgroup-parent", Set: hc.CgroupParent != ""},
	}
}
