package container

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
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
	HostConfig     map[string]any
	GraphDriver    struct {
		Data map[string]string
		Name string
	}
	Mounts          []InspectMount
	Config          map[string]any
	NetworkSettings map[string]any
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
	ulimits := []map[string]any{}
	for _, u := range hc.Ulimits {
		ulimits = append(ulimits, map[string]any{"Name": u.Name, "Soft": u.Soft, "Hard": u.Hard})
	}
	binds := hc.Binds
	if binds == nil {
		binds = []string{}
	}
	in.HostConfig = map[string]any{
		"Binds": binds, "NetworkMode": netMode(c), "PortBindings": bindings,
		"RestartPolicy": map[string]any{"Name": "no", "MaximumRetryCount": 0},
		"AutoRemove":    hc.AutoRemove, "PublishAllPorts": hc.PublishAll, "ReadonlyRootfs": hc.ReadonlyRootfs,
		"Init": hc.Init, "Memory": hc.Memory, "NanoCpus": hc.NanoCPUs, "CpuShares": hc.CPUShares,
		"PidsLimit": hc.PidsLimit, "Ulimits": ulimits, "SecurityOpt": hc.SecurityOpt, "Runtime": hc.Runtime,
		"LogConfig": map[string]any{"Type": "json-file", "Config": map[string]string{}},
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
	in.Config = map[string]any{
		"Hostname": cfg.Hostname, "Domainname": "", "User": cfg.User,
		"AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
		"ExposedPorts": exposed, "Tty": cfg.Tty, "OpenStdin": cfg.OpenStdin, "StdinOnce": cfg.StdinOnce,
		"Env": env, "Cmd": cfg.Cmd, "Image": cfg.Image, "Volumes": cfg.Volumes, "WorkingDir": cfg.WorkingDir,
		"Entrypoint": cfg.Entrypoint, "OnBuild": nil, "Labels": cfg.Labels,
	}
	if cfg.StopSignal != "" {
		in.Config["StopSignal"] = cfg.StopSignal
	}
	ip, gw := "", ""
	if netMode(c) == "bridge" {
		ip, gw = slirpGuestIP, "10.0.2.2"
	}
	in.NetworkSettings = map[string]any{
		"Ports": ports, "IPAddress": ip, "Gateway": gw, "SandboxKey": filepath.Join(c.dir, "netns"),
		"Networks": map[string]any{netMode(c): map[string]any{"IPAddress": ip, "Gateway": gw}},
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
