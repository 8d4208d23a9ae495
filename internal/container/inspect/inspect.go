package inspect

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/images"
	networks "github.com/hoistproject/hoist/internal/network"
)

// State is docker's State object.
type State struct {
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
	Health     *Health `json:",omitempty"`
}

// Health is State.Health, as docker shows it.
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthLog
}

// HealthLog is one probe of State.Health.Log.
type HealthLog struct {
	Start, End string
	ExitCode   int
	Output     string
}

// Mount is one entry of inspect's Mounts, as docker shows it.
type Mount struct {
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

// Container is `docker container inspect`'s object, with docker's field names
// in docker's order.
type Container struct {
	Id              string
	Created         string
	Path            string
	Args            []string
	State           State
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      HostConfig
	GraphDriver     struct {
		Data map[string]string
		Name string
	}
	SizeRw          *int64 `json:",omitempty"` // inspect -s
	SizeRootFs      *int64 `json:",omitempty"`
	Mounts          []Mount
	Config          images.InspectConfig // docker's container.Config, as for images
	NetworkSettings NetworkSettings
}

// HostConfig is inspect's HostConfig: docker's fields in docker's
// order (those hoist has no use for at their docker defaults, so that
// templates reading them work).
type HostConfig struct {
	Binds                []string
	ContainerIDFile      string
	LogConfig            LogConfig
	NetworkMode          string
	PortBindings         map[string][]PortMapping
	RestartPolicy        RestartPolicy
	AutoRemove           bool
	VolumeDriver         string
	VolumesFrom          []string
	CapAdd               []string
	CapDrop              []string
	CgroupnsMode         string
	Dns                  []string
	DnsOptions           []string
	DnsSearch            []string
	ExtraHosts           []string
	GroupAdd             []string
	IpcMode              string
	Cgroup               string
	Links                []string
	OomScoreAdj          int
	PidMode              string
	Privileged           bool
	PublishAllPorts      bool
	ReadonlyRootfs       bool
	SecurityOpt          []string
	Tmpfs                map[string]string `json:",omitempty"`
	UTSMode              string
	UsernsMode           string
	ShmSize              int64
	Sysctls              map[string]string `json:",omitempty"`
	Runtime              string
	ConsoleSize          [2]uint
	Isolation            string
	CpuShares            int64
	Memory               int64
	NanoCpus             int64
	CgroupParent         string
	BlkioWeight          uint16
	BlkioWeightDevice    []struct{}
	BlkioDeviceReadBps   []struct{}
	BlkioDeviceWriteBps  []struct{}
	BlkioDeviceReadIOps  []struct{}
	BlkioDeviceWriteIOps []struct{}
	CpuPeriod            int64
	CpuQuota             int64
	CpuRealtimePeriod    int64
	CpuRealtimeRuntime   int64
	CpusetCpus           string
	CpusetMems           string
	Devices              []spec.DeviceMapping
	DeviceCgroupRules    []string
	DeviceRequests       []struct{}
	KernelMemory         int64
	KernelMemoryTCP      int64
	MemoryReservation    int64
	MemorySwap           int64
	MemorySwappiness     *int64
	OomKillDisable       bool
	PidsLimit            *int64
	Ulimits              []Ulimit
	CpuCount             int64
	CpuPercent           int64
	IOMaximumIOps        uint64
	IOMaximumBandwidth   uint64
	MaskedPaths          []string
	ReadonlyPaths        []string
	Init                 *bool `json:",omitempty"`
}

// LogConfig is HostConfig.LogConfig.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// RestartPolicy is HostConfig.RestartPolicy.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// Ulimit is one of HostConfig.Ulimits, in docker's field order.
type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// NetworkSettings is inspect's NetworkSettings, in docker's order.
type NetworkSettings struct {
	Bridge                 string
	SandboxID              string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	Ports                  map[string][]PortMapping
	SandboxKey             string
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]Endpoint
}

// Endpoint is one of NetworkSettings.Networks, in docker's order.
type Endpoint struct {
	IPAMConfig          map[string]string
	Links               []string
	Aliases             []string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	MacAddress          string
	DriverOpts          map[string]string
}

func inspectHealth(h *container.Health) *Health {
	if h == nil {
		return nil
	}
	out := &Health{Status: h.Status, FailingStreak: h.FailingStreak, Log: []HealthLog{}}
	for _, l := range h.Log {
		out.Log = append(out.Log, HealthLog{Start: l.Start.Format(time.RFC3339Nano), End: l.End.Format(time.RFC3339Nano), ExitCode: l.ExitCode, Output: l.Output})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orEmpty(s []string) []string { return orEmptyOf(s) }

// orEmptyOf is s, or an empty (not null) list.
func orEmptyOf[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Of returns docker's inspect object of container c, attached to the
// networks atts (NetworkSettings.Networks; with the bridge transport).
func Of(c *container.Container, atts ...networks.Attachment) Container {
	s := c.State
	in := Container{
		Id: c.ID, Created: dockerTime(c.Created), Path: c.Path, Args: c.Args,
		State: State{Status: s.Status, Running: s.Running(), Paused: s.Status == container.StatusPaused, Restarting: s.Status == container.StatusRestarting,
			Dead: s.Status == container.StatusDead, Pid: s.Pid, ExitCode: s.ExitCode, Error: s.Error, OOMKilled: s.OOMKilled,
			StartedAt: dockerTime(s.StartedAt), FinishedAt: dockerTime(s.FinishedAt), Health: inspectHealth(s.Health)},
		Image:          c.ImageID,
		RestartCount:   s.RestartCount,
		ResolvConfPath: filepath.Join(c.Dir(), "resolv.conf"),
		HostnamePath:   filepath.Join(c.Dir(), "hostname"),
		HostsPath:      filepath.Join(c.Dir(), "hosts"),
		LogPath:        c.LogPath(),
		Name:           "/" + c.Name,
		Driver:         "overlay2",
		Platform:       "linux",
	}
	in.Mounts = []Mount{}
	for _, mp := range c.Mounts {
		im := Mount{Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination, RW: mp.RW,
			Propagation: orDefault(mp.Propagation, "rprivate")}
		if mp.Type == "volume" {
			im.Driver, im.Propagation = "local", ""
		}
		var mode []string // docker shows the -v mode as given
		if !mp.RW {
			mode = append(mode, "ro")
		}
		if mp.Propagation != "" {
			mode = append(mode, mp.Propagation)
		}
		im.Mode = strings.Join(mode, ",")
		in.Mounts = append(in.Mounts, im)
	}
	if in.Args == nil {
		in.Args = []string{}
	}
	lowers := []string{filepath.Join(c.Dir(), "init")}
	for i := len(c.LowerDirs) - 1; i >= 0; i-- {
		lowers = append(lowers, c.LowerDirs[i])
	}
	in.GraphDriver.Name = "overlay2"
	in.GraphDriver.Data = map[string]string{
		"LowerDir": strings.Join(lowers, ":"), "UpperDir": filepath.Join(c.Dir(), "upper"),
		"WorkDir": filepath.Join(c.Dir(), "work"), "MergedDir": filepath.Join(c.Dir(), "rootfs"),
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
	ulimits := []Ulimit{}
	for _, u := range hc.Ulimits {
		ulimits = append(ulimits, Ulimit{Name: u.Name, Hard: u.Hard, Soft: u.Soft})
	}
	binds := hc.Binds
	if binds == nil {
		binds = []string{}
	}
	in.HostConfig = HostConfig{
		Binds: binds, LogConfig: LogConfig{Type: orDefault(hc.LogConfig.Type, "json-file"), Config: hc.LogConfig.Config},
		NetworkMode: orDefault(hc.NetworkMode, "default"), PortBindings: bindings, RestartPolicy: RestartPolicy{Name: orDefault(hc.RestartPolicy.Name, "no"), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount},
		AutoRemove: hc.AutoRemove, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, CgroupnsMode: orDefault(hc.CgroupnsMode, "host"),
		Dns: orEmpty(hc.DNS), DnsOptions: orEmpty(hc.DNSOptions), DnsSearch: orEmpty(hc.DNSSearch),
		ExtraHosts: hc.ExtraHosts, GroupAdd: hc.GroupAdd, ContainerIDFile: hc.ContainerIDFile,
		IpcMode: orDefault(hc.IpcMode, "private"), PidMode: hc.PidMode, UTSMode: hc.UTSMode, Privileged: hc.Privileged,
		MemorySwap: hc.MemorySwap, MemoryReservation: hc.MemoryReservation, CpusetCpus: hc.CpusetCpus, CpusetMems: hc.CpusetMems,
		CpuPeriod: hc.CPUPeriod, CpuQuota: hc.CPUQuota, OomKillDisable: hc.OomKillDisable,
		PublishAllPorts: hc.PublishAll, ReadonlyRootfs: hc.ReadonlyRootfs,
		SecurityOpt: hc.SecurityOpt, ShmSize: 64 << 20, Tmpfs: hc.Tmpfs, Runtime: hc.Runtime, CpuShares: hc.CPUShares, Memory: hc.Memory,
		NanoCpus: hc.NanoCPUs, BlkioWeightDevice: []struct{}{}, BlkioDeviceReadBps: []struct{}{},
		BlkioDeviceWriteBps: []struct{}{}, BlkioDeviceReadIOps: []struct{}{}, BlkioDeviceWriteIOps: []struct{}{},
		Devices: orEmptyOf(hc.Devices), Ulimits: ulimits, Sysctls: hc.Sysctls, VolumesFrom: hc.VolumesFrom,
		OomScoreAdj: hc.OomScoreAdj, MemorySwappiness: hc.MemorySwappiness, CgroupParent: hc.CgroupParent, UsernsMode: hc.UsernsMode, MaskedPaths: spec.MaskedPaths(), ReadonlyPaths: spec.ReadonlyPaths(),
	}
	if hc.ShmSize > 0 {
		in.HostConfig.ShmSize = hc.ShmSize
	}
	if in.HostConfig.LogConfig.Config == nil {
		in.HostConfig.LogConfig.Config = map[string]string{}
	}
	if hc.PidsLimit != 0 {
		n := hc.PidsLimit
		in.HostConfig.PidsLimit = &n
	}
	if hc.Init {
		in.HostConfig.Init = &hc.Init
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
		Hostname: cfg.Hostname, Domainname: cfg.Domainname, User: cfg.User, ExposedPorts: exposed,
		Tty: cfg.Tty, OpenStdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce,
		Env: env, Cmd: cfg.Cmd, Image: cfg.Image, Volumes: cfg.Volumes, WorkingDir: cfg.WorkingDir,
		Entrypoint: cfg.Entrypoint, Labels: cfg.Labels, StopSignal: cfg.StopSignal,
	}
	in.Config.Healthcheck = cfg.Healthcheck
	ip, gw, prefix := "", "", 0
	if c.Network() == "bridge" {
		ip, gw, prefix = network.GuestIP, network.Gateway, 24 // slirp4netns's 10.0.2.0/24
	}
	in.NetworkSettings = NetworkSettings{
		SandboxKey: filepath.Join(c.Dir(), "netns"), Ports: ports, Gateway: gw, IPAddress: ip, IPPrefixLen: prefix,
		Networks: map[string]Endpoint{c.Network(): {Gateway: gw, IPAddress: ip, IPPrefixLen: prefix}},
	}
	if len(atts) > 0 && networks.Transport() == "bridge" {
		in.NetworkSettings.Networks = map[string]Endpoint{}
		in.NetworkSettings.IPAddress, in.NetworkSettings.Gateway, in.NetworkSettings.IPPrefixLen = "", "", 0
		for _, a := range atts {
			n, ep := a.Network, a.Endpoint
			e := Endpoint{NetworkID: n.ID, Links: ep.Links}
			bits := 0
			if ep.Up { // addressed while it runs only, as docker's
				var addr netip.Addr
				addr, bits = ep.Addr(n)
				e.Gateway, e.IPAddress, e.IPPrefixLen, e.MacAddress, e.EndpointID = n.Gateway, addr.String(), bits, ep.MAC, ep.EndpointID
			}
			if ep.IPAMIP != "" {
				e.IPAMConfig = map[string]string{"IPv4Address": ep.IPAMIP}
			}
			if n.Name != "bridge" {
				e.Aliases = append(append([]string{}, ep.Aliases...), c.ID[:12])
			}
			in.NetworkSettings.Networks[n.Name] = e
			if n.Name == "bridge" {
				in.NetworkSettings.IPAddress, in.NetworkSettings.Gateway, in.NetworkSettings.IPPrefixLen = e.IPAddress, e.Gateway, bits
				in.NetworkSettings.MacAddress, in.NetworkSettings.EndpointID = ep.MAC, e.EndpointID
			}
		}
	}
	return in
}
