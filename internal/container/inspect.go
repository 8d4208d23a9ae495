package container

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/images"
)

// InspectState is docker's State object.
type InspectState struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
}

// InspectMount is one entry of inspect's Mounts, as docker shows it.
type InspectMount struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// PortMapping is one entry of NetworkSettings.Ports.
type PortMapping struct {
	HostIp   string
	HostPort string
}

// Inspect is `docker container inspect`'s object, with docker's field names.
type Inspect struct {
	Id             string
	Created        string
	Path           string
	Args           []string
	State          InspectState
	Image          string
	ResolvConfPath string
	HostnamePath   string
	HostsPath      string
	LogPath        string
	Name           string
	RestartCount   int
	Driver         string
	Platform       string
	HostConfig     InspectHostConfig
	GraphDriver    struct {
		Data map[string]string
		Name string
	}
	Mounts          []InspectMount
	Config          images.InspectConfig // docker's container.Config, as for images
	NetworkSettings InspectNetworkSettings
}

// InspectHostConfig is inspect's HostConfig: the fields of docker's
// HostConfig that hoist has, in docker's order.
type InspectHostConfig struct {
	Binds           []string
	LogConfig       InspectLogConfig
	NetworkMode     string
	PortBindings    map[string][]PortMapping
	RestartPolicy   InspectRestartPolicy
	AutoRemove      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	Runtime         string
	CpuShares       int64
	Memory          int64
	NanoCpus        int64
	PidsLimit       int64
	Ulimits         []InspectUlimit
	Init            bool
}

// InspectLogConfig is HostConfig.LogConfig.
type InspectLogConfig struct {
	Type   string
	Config map[string]string
}

// InspectRestartPolicy is HostConfig.RestartPolicy.
type InspectRestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// InspectUlimit is one of HostConfig.Ulimits, in docker's field order.
type InspectUlimit struct {
	Name string
	Hard int64
	Soft int64
}

// InspectNetworkSettings is inspect's NetworkSettings, in docker's order.
type InspectNetworkSettings struct {
	SandboxKey string
	Ports      map[string][]PortMapping
	Gateway    string
	IPAddress  string
	Networks   map[string]InspectEndpoint
}

// InspectEndpoint is one of NetworkSettings.Networks.
type InspectEndpoint struct {
	Gateway   string
	IPAddress string
}

func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Inspect returns the container's inspect object.
func (c *Container) Inspect() Inspect {
	s := c.State
	in := Inspect{
		Id: c.ID, Created: dockerTime(c.Created), Path: c.Path, Args: c.Args,
		State: InspectState{Status: s.Status, Running: s.Running(), Paused: s.Status == StatusPaused,
			Dead: s.Status == StatusDead, Pid: s.Pid, ExitCode: s.ExitCode, Error: s.Error, OOMKilled: s.OOMKilled,
			StartedAt: dockerTime(s.StartedAt), FinishedAt: dockerTime(s.FinishedAt)},
		Image:          c.ImageID,
		ResolvConfPath: filepath.Join(c.dir, "resolv.conf"),
		HostnamePath:   filepath.Join(c.dir, "hostname"),
		HostsPath:      filepath.Join(c.dir, "hosts"),
		LogPath:        c.LogPath(),
		Name:           "/" + c.Name,
		Driver:         "overlay2",
		Platform:       "linux",
	}
	in.Mounts = []InspectMount{}
	for _, mp := range c.Mounts {
		im := InspectMount{Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination, RW: mp.RW, Propagation: "rprivate"}
		if mp.Type == "volume" {
			im.Driver, im.Propagation = "local", ""
		}
		if !mp.RW {
			im.Mode = "ro"
		}
		in.Mounts = append(in.Mounts, im)
	}
	if in.Args == nil {
		in.Args = []string{}
	}
	lowers := []string{filepath.Join(c.dir, "init")}
	for i := len(c.LowerDirs) - 1; i >= 0; i-- {
		lowers = append(lowers, c.LowerDirs[i])
	}
	in.GraphDriver.Name = "overlay2"
	in.GraphDriver.Data = map[string]string{
		"LowerDir": strings.Join(lowers, ":"), "UpperDir": filepath.Join(c.dir, "upper"),
		"WorkDir": filepath.Join(c.dir, "work"), "MergedDir": filepath.Join(c.dir, "rootfs"),
	}
	hc := c.HostConfig
	ports := map[string][]PortMapping{}
	for _, p := range c.Ports {
		k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		ports[k] = append(ports[k], PortMapping{HostIp: ip, HostPort: fmt.Sprint(p.HostPort)})
	}
	bindings := map[string][]PortMapping{}
	for _, p := range hc.PortBindings {
		k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		bindings[k] = append(bindings[k], PortMapping{HostIp: p.HostIP, HostPort: fmt.Sprint(p.HostPort)})
	}
	ulimits := []InspectUlimit{}
	for _, u := range hc.Ulimits {
		ulimits = append(ulimits, InspectUlimit{Name: u.Name, Hard: u.Hard, Soft: u.Soft})
	}
	binds := hc.Binds
	if binds == nil {
		binds = []string{}
	}
	in.HostConfig = InspectHostConfig{
		Binds: binds, LogConfig: InspectLogConfig{Type: "json-file", Config: map[string]string{}},
		NetworkMode: c.networkModeSet(), PortBindings: bindings, RestartPolicy: InspectRestartPolicy{Name: "no"},
		AutoRemove: hc.AutoRemove, PublishAllPorts: hc.PublishAll, ReadonlyRootfs: hc.ReadonlyRootfs,
		SecurityOpt: hc.SecurityOpt, Runtime: hc.Runtime, CpuShares: hc.CPUShares, Memory: hc.Memory,
		NanoCpus: hc.NanoCPUs, PidsLimit: hc.PidsLimit, Ulimits: ulimits, Init: hc.Init,
	}
	cfg := c.Config
	env := cfg.Env
	if env == nil {
		env = []string{}
	}
	var exposed map[string]struct{}
	if len(cfg.ExposedPorts) > 0 {
		exposed = cfg.ExposedPorts
	}
	in.Config = images.InspectConfig{
		Hostname: cfg.Hostname, User: cfg.User, ExposedPorts: exposed,
		Tty: cfg.Tty, OpenStdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce,
		Env: env, Cmd: cfg.Cmd, Image: cfg.Image, Volumes: cfg.Volumes, WorkingDir: cfg.WorkingDir,
		Entrypoint: cfg.Entrypoint, Labels: cfg.Labels, StopSignal: cfg.StopSignal,
	}
	ip, gw := "", ""
	if netMode(c) == "bridge" {
		ip, gw = network.GuestIP, "10.0.2.2"
	}
	in.NetworkSettings = InspectNetworkSettings{
		SandboxKey: filepath.Join(c.dir, "netns"), Ports: ports, Gateway: gw, IPAddress: ip,
		Networks: map[string]InspectEndpoint{netMode(c): {Gateway: gw, IPAddress: ip}},
	}
	return in
}

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
