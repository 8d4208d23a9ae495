package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// createOptions reads a create request as the engine's options.
func createOptions(name string, req container.CreateRequest) (engine.CreateOptions, error) {
	var o engine.CreateOptions
	if req.Config == nil {
		return o, errdefs.InvalidArgumentf("config cannot be empty in order to create a container")
	}
	c := req.Config
	if c.Image == "" {
		return o, errdefs.InvalidArgumentf("no image specified")
	}
	o.Name, o.Image = name, c.Image
	o.Config = engine.ContainerConfig{Hostname: c.Hostname, Domainname: c.Domainname, User: c.User, Env: c.Env,
		Cmd: c.Cmd, Entrypoint: c.Entrypoint, EntrypointSet: c.Entrypoint != nil, WorkingDir: c.WorkingDir, Tty: c.Tty,
		OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce, Labels: c.Labels, StopSignal: c.StopSignal,
		StopTimeout: c.StopTimeout, Volumes: c.Volumes, Image: c.Image}
	if len(c.ExposedPorts) > 0 {
		o.Config.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			o.Config.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if c.Healthcheck != nil {
		o.Config.Healthcheck = &engine.HealthConfig{}
		if err := convert(c.Healthcheck, o.Config.Healthcheck); err != nil {
			return o, errdefs.InvalidArgumentf("Healthcheck: %v", err)
		}
	}
	o.Pull = "never" // docker's create never pulls: the client does
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	h := engine.HostConfig{Binds: hc.Binds, NetworkMode: string(hc.NetworkMode), ReadonlyRootfs: hc.ReadonlyRootfs,
		AutoRemove: hc.AutoRemove, Memory: hc.Memory, NanoCPUs: hc.NanoCPUs, CPUShares: hc.CPUShares,
		SecurityOpt: hc.SecurityOpt, Runtime: hc.Runtime,
		PublishAll: hc.PublishAllPorts, Tmpfs: hc.Tmpfs, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		GroupAdd: hc.GroupAdd, ShmSize: hc.ShmSize, ExtraHosts: hc.ExtraHosts, DNSSearch: hc.DNSSearch,
		DNSOptions: hc.DNSOptions, Privileged: hc.Privileged, PidMode: string(hc.PidMode), IpcMode: string(hc.IpcMode),
		UTSMode: string(hc.UTSMode), MemorySwap: hc.MemorySwap, MemoryReservation: hc.MemoryReservation,
		CpusetCpus: hc.CpusetCpus, CpusetMems: hc.CpusetMems, CPUPeriod: hc.CPUPeriod, CPUQuota: hc.CPUQuota,
		Sysctls: hc.Sysctls, VolumesFrom: hc.VolumesFrom, OomScoreAdj: hc.OomScoreAdj,
		MemorySwappiness: hc.MemorySwappiness, CgroupParent: hc.CgroupParent, CgroupnsMode: string(hc.CgroupnsMode),
		UsernsMode: string(hc.UsernsMode), LogConfig: engine.LogConfig{Type: hc.LogConfig.Type, Config: hc.LogConfig.Config}}
	if h.NetworkMode == "default" {
		h.NetworkMode = ""
	}
	// The policy by docker's one rule for it (names, retry counts).
	policy := string(hc.RestartPolicy.Name)
	if hc.RestartPolicy.MaximumRetryCount != 0 {
		policy += ":" + strconv.Itoa(hc.RestartPolicy.MaximumRetryCount)
	}
	if policy != "" {
		rp, err := engine.ParseRestartPolicy(policy)
		if err != nil {
			return o, err
		}
		h.RestartPolicy = rp
	}
	if hc.Init != nil {
		h.Init = *hc.Init
	}
	if hc.PidsLimit != nil {
		h.PidsLimit = *hc.PidsLimit
	}
	if hc.OomKillDisable != nil {
		h.OomKillDisable = *hc.OomKillDisable
	}
	for _, d := range hc.DNS {
		h.DNS = append(h.DNS, d.String())
	}
	for _, u := range hc.Ulimits {
		h.Ulimits = append(h.Ulimits, engine.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range hc.Devices {
		h.Devices = append(h.Devices, engine.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.CgroupPermissions})
	}
	for p, bs := range hc.PortBindings {
		for _, b := range bs {
			pb := engine.PortBinding{ContainerPort: int(p.Num()), Proto: string(p.Proto())}
			if b.HostIP.IsValid() {
				pb.HostIP = b.HostIP.String()
			}
			if b.HostPort != "" {
				n, err := strconv.Atoi(b.HostPort)
				if err != nil || n < 0 || n > 65535 {
					return o, errdefs.InvalidArgumentf("invalid host port %q for %s", b.HostPort, p)
				}
				pb.HostPort = n
			}
			h.PortBindings = append(h.PortBindings, pb)
		}
	}
	for _, m := range hc.Mounts {
		if err := addMount(&h, m); err != nil {
			return o, err
		}
	}
	o.HostConfig = h
	if nc := req.NetworkingConfig; nc != nil && len(nc.EndpointsConfig) > 0 {
		o.Networks = map[string]engine.EndpointOptions{}
		for ref, es := range nc.EndpointsConfig {
			o.Networks[ref] = endpointOptions(es)
		}
	}
	return o, nil
}

// addMount adds one HostConfig.Mounts entry as the bind, volume or tmpfs
// hoist's host config has.
func addMount(h *engine.HostConfig, m mount.Mount) error {
	if !path.IsAbs(m.Target) {
		return errdefs.InvalidArgumentf("invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute", m.Type, m.Target)
	}
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume:
		if m.Type == mount.TypeBind && !path.IsAbs(m.Source) {
			return errdefs.InvalidArgumentf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		var mode []string
		if m.ReadOnly {
			mode = append(mode, "ro")
		}
		if m.BindOptions != nil && m.BindOptions.Propagation != "" {
			mode = append(mode, string(m.BindOptions.Propagation))
		}
		if m.VolumeOptions != nil && m.VolumeOptions.NoCopy {
			mode = append(mode, "nocopy")
		}
		b := m.Source + ":" + m.Target
		if m.Source == "" {
			b = m.Target // an anonymous volume
		}
		if len(mode) > 0 {
			b += ":" + strings.Join(mode, ",")
		}
		h.Binds = append(h.Binds, b)
	case mount.TypeTmpfs:
		var opts []string
		if t := m.TmpfsOptions; t != nil {
			if t.SizeBytes > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", t.SizeBytes))
			}
			if t.Mode != 0 {
				opts = append(opts, fmt.Sprintf("mode=%o", t.Mode.Perm()))
			}
		}
		if h.Tmpfs == nil {
			h.Tmpfs = map[string]string{}
		}
		h.Tmpfs[m.Target] = strings.Join(opts, ",")
	default:
		return errdefs.InvalidArgumentf("mount type %q is not supported by hoist", m.Type)
	}
	return nil
}

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) {
	var req container.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	o, err := createOptions(r.URL.Query().Get("name"), req)
	if err != nil {
		writeError(w, err)
		return
	}
	o.Platform = r.URL.Query().Get("platform")
	c, err := s.eng.CreateContainer(r.Context(), o)
	if err != nil {
		if errdefs.IsNotFound(err) && !strings.HasPrefix(err.Error(), "No such image") {
			err = errdefs.NotFoundf("No such image: %s", o.Image)
		}
		writeError(w, err)
		return
	}
	if hc := req.HostConfig; hc != nil && hc.ConsoleSize[0] > 0 {
		s.setConsoleSize(c.ID, uint16(hc.ConsoleSize[0]), uint16(hc.ConsoleSize[1]))
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: []string{}})
}

// containerSummary is a container's containers/json entry.
func containerSummary(c *engine.Container, in engine.ContainerInspect) container.Summary {
	cmd := strings.Join(append([]string{c.Path}, c.Args...), " ")
	out := container.Summary{ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Config.Image, ImageID: c.ImageID,
		Command: cmd, Created: c.Created.Unix(), Labels: c.Config.Labels, State: container.ContainerState(c.State.Status),
		Status: c.StatusText(), Ports: []container.PortSummary{}, Mounts: []container.MountPoint{}}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.HostConfig.NetworkMode = c.Network()
	for _, p := range c.Ports {
		ps := container.PortSummary{PrivatePort: uint16(p.ContainerPort), PublicPort: uint16(p.HostPort), Type: p.Proto}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		ps.IP, _ = parseAddr(ip)
		out.Ports = append(out.Ports, ps)
	}
	for _, m := range c.Mounts {
		out.Mounts = append(out.Mounts, container.MountPoint{Type: mount.Type(m.Type), Name: m.Name, Source: m.Source,
			Destination: m.Destination, RW: m.RW, Propagation: mount.Propagation(m.Propagation)})
	}
	if h := c.State.Health; h != nil && c.State.Running() {
		out.Health = &container.HealthSummary{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	var ns container.NetworkSettings
	if convert(in.NetworkSettings, &ns) == nil {
		out.NetworkSettings = &container.NetworkSettingsSummary{Networks: ns.Networks}
	}
	return out
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) {
	filters, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	limit, err := intValue(r, "limit", 0)
	if err != nil {
		writeError(w, err)
		return
	}
	cs, err := s.eng.ListContainers(r.Context(), engine.ContainerListOptions{All: boolValue(r, "all"), Last: limit, Filters: filters})
	if err != nil {
		writeError(w, err)
		return
	}
	size := boolValue(r, "size")
	out := make([]container.Summary, 0, len(cs))
	for _, c := range cs {
		in, err := s.eng.InspectContainer(r.Context(), c.ID, false)
		if err != nil {
			continue // removed meanwhile
		}
		sum := containerSummary(c, in)
		if size {
			sum.SizeRw, sum.SizeRootFs = s.eng.ContainerSize(r.Context(), c)
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) {
	in, err := s.eng.InspectContainer(r.Context(), r.PathValue("id"), boolValue(r, "size"))
	if err != nil {
		writeError(w, err)
		return
	}
	var out container.InspectResponse
	if err := convert(in, &out); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// timeout is the t (or timeout) parameter of stop and restart, nil when
// absent.
func timeout(r *http.Request) (*int, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		v = r.URL.Query().Get("timeout")
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("invalid value for t: %q", v)
	}
	return &n, nil
}

// noContent answers 204 or err.
func noContent(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) {
	t, err := timeout(r)
	if err == nil {
		err = s.eng.Stop(r.Context(), r.PathValue("id"), t)
	}
	noContent(w, err)
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) {
	t, err := timeout(r)
	if err == nil {
		err = s.eng.Restart(r.Context(), r.PathValue("id"), t)
	}
	noContent(w, err)
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) {
	sig := r.URL.Query().Get("signal")
	if sig == "" {
		sig = "KILL"
	}
	noContent(w, s.eng.Kill(r.Context(), r.PathValue("id"), sig))
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) {
	noContent(w, s.eng.Pause(r.Context(), r.PathValue("id")))
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) {
	noContent(w, s.eng.Unpause(r.Context(), r.PathValue("id")))
}

func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) {
	noContent(w, s.eng.Rename(r.Context(), r.PathValue("id"), r.URL.Query().Get("name")))
}

func (s *Server) containerDelete(w http.ResponseWriter, r *http.Request) {
	noContent(w, s.eng.RemoveContainer(r.Context(), r.PathValue("id"),
		engine.RemoveOptions{Force: boolValue(r, "force"), Volumes: boolValue(r, "v")}))
}

// containerWait answers its headers at once (the client starts the
// container after them), then the exit status.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) {
	ready := func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		flush(w)
	}
	answered := false
	code, err := s.eng.WaitCondition(r.Context(), r.PathValue("id"), r.URL.Query().Get("condition"), func() {
		answered = true
		ready()
	})
	if !answered {
		writeError(w, err)
		return
	}
	resp := container.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		resp.Error = &container.WaitExitError{Message: err.Error()}
	}
	writeJSONBody(w, resp)
}

// writeJSONBody writes v after headers already sent.
func writeJSONBody(w http.ResponseWriter, v any) {
	writeJSONTo(w, v)
	flush(w)
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.eng.Container(ctx, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	wantOut, wantErr := boolValue(r, "stdout"), boolValue(r, "stderr")
	if !wantOut && !wantErr {
		writeError(w, errdefs.InvalidArgumentf("Bad parameters: you must choose at least one stream"))
		return
	}
	o := engine.LogOptions{Follow: boolValue(r, "follow"), Timestamps: boolValue(r, "timestamps"), Tail: -1}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			writeError(w, errdefs.InvalidArgumentf("invalid value for tail: %q", t))
			return
		}
		o.Tail = n
	}
	now := time.Now()
	for k, dst := range map[string]*time.Time{"since": &o.Since, "until": &o.Until} {
		if v := q.Get(k); v != "" && v != "0" {
			t, err := engine.ParseTimestamp(v, now)
			if err != nil {
				writeError(w, errdefs.InvalidArgumentf("invalid value for %s: %v", k, err))
				return
			}
			*dst = t
		}
	}
	stdout, stderr := streamWriters(w, c.Config.Tty)
	if !wantOut {
		stdout = io.Discard
	}
	if !wantErr {
		stderr = io.Discard
	}
	w.WriteHeader(http.StatusOK)
	flush(w)
	s.eng.Logs(ctx, c.ID, o, stdout, stderr)
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) {
	var args []string
	if a := r.URL.Query().Get("ps_args"); a != "" {
		args = strings.Fields(a)
	}
	res, err := s.eng.Top(r.Context(), r.PathValue("id"), args...)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.TopResponse{Titles: res.Titles, Processes: res.Processes})
}

func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) {
	changes, err := s.eng.Diff(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]container.FilesystemChange, 0, len(changes))
	for _, c := range changes {
		var k container.ChangeType
		switch c.Kind {
		case 'A':
			k = container.ChangeAdd
		case 'D':
			k = container.ChangeDelete
		default:
			k = container.ChangeModify
		}
		out = append(out, container.FilesystemChange{Path: c.Path, Kind: k})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.eng.Container(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	s.eng.Export(r.Context(), id, w)
}

func (s *Server) containerPrune(w http.ResponseWriter, r *http.Request) {
	args, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := engine.ParseFilters(args, "label", "until")
	if err != nil {
		writeError(w, err)
		return
	}
	ids, reclaimed, err := s.eng.PruneContainers(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	writeJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: ids, SpaceReclaimed: uint64(reclaimed)})
}

func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) {
	var u container.UpdateConfig
	if err := decodeBody(r, &u); err != nil {
		writeError(w, err)
		return
	}
	var res engine.Resources
	for dst, v := range map[**int64]int64{&res.Memory: u.Memory, &res.MemorySwap: u.MemorySwap,
		&res.MemoryReservation: u.MemoryReservation, &res.NanoCPUs: u.NanoCPUs, &res.CPUShares: u.CPUShares,
		&res.CPUPeriod: u.CPUPeriod, &res.CPUQuota: u.CPUQuota} {
		if v != 0 { // docker's update sends 0 for what it leaves as it is
			*dst = &v
		}
	}
	if u.CpusetCpus != "" {
		res.CpusetCpus = &u.CpusetCpus
	}
	if u.CpusetMems != "" {
		res.CpusetMems = &u.CpusetMems
	}
	res.PidsLimit = u.PidsLimit
	if err := s.eng.Update(r.Context(), r.PathValue("id"), res); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: []string{}})
}

func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	c, err := s.eng.Container(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	stream := boolValueOr(r, "stream", true)
	if boolValue(r, "one-shot") {
		stream = false
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	var pre container.CPUStats
	for {
		st, err := s.eng.Stats(ctx, []string{c.ID}, 100*time.Millisecond)
		if err != nil || len(st) == 0 {
			return
		}
		resp := statsResponse(c, st[0], pre)
		pre = resp.CPUStats
		writeJSONTo(w, resp)
		flush(w)
		if !stream {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(900 * time.Millisecond):
		}
	}
}

// resolveID is the full ID of the container ref names.
func (s *Server) resolveID(ctx context.Context, ref string) (string, error) {
	c, err := s.eng.Container(ctx, ref)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}
