package apiserver

import (
	"encoding/json"
	"net/http"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/hoistproject/hoist/internal/engine"
)

// ping is /_ping: the API version and the classic builder (so that
// clients use POST /build).
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Swarm", "inactive")
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", "0")
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	info, _ := s.eng.Info(r.Context())
	v := system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "hoist"},
		Version:       s.o.Version,
		APIVersion:    MaxAPIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		KernelVersion: info.KernelVersion,
		Components: []system.ComponentVersion{{Name: "Engine", Version: s.o.Version,
			Details: map[string]string{"ApiVersion": MaxAPIVersion, "MinAPIVersion": MinAPIVersion, "Os": runtime.GOOS, "Arch": runtime.GOARCH}}},
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	in, err := s.eng.Info(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := system.Info{
		ID: in.ID, Containers: in.Containers, ContainersRunning: in.ContainersRunning,
		ContainersPaused: in.ContainersPaused, ContainersStopped: in.ContainersStopped, Images: in.Images,
		Driver: in.Driver, DriverStatus: in.DriverStatus, DockerRootDir: in.DockerRootDir,
		ServerVersion: in.ServerVersion, DefaultRuntime: in.DefaultRuntime, KernelVersion: in.KernelVersion,
		OperatingSystem: in.OperatingSystem, OSType: in.OSType, Architecture: in.Architecture,
		NCPU: in.NCPU, MemTotal: in.MemTotal, Name: in.Name, SecurityOptions: in.SecurityOptions,
		LoggingDriver: "json-file", CgroupDriver: "cgroupfs", CgroupVersion: "2",
		IndexServerAddress: engine.IndexServer, SystemTime: time.Now().Format(time.RFC3339Nano),
		Runtimes: map[string]system.RuntimeWithStatus{},
	}
	for name, rt := range in.Runtimes {
		out.Runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: rt["path"]}}
	}
	writeJSON(w, http.StatusOK, out)
}

// events streams the recorded events o selects, then the new ones.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	filters, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	o := engine.EventsOptions{Since: q.Get("since"), Until: q.Get("until"), Filters: filters}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	started := false
	begin := func() {
		if !started {
			started = true
			w.WriteHeader(http.StatusOK)
			flush(w)
		}
	}
	// The headers go first: a client waits for them before it acts.
	if o.Since == "" {
		begin()
	}
	err = s.eng.Events(r.Context(), o, func(ev engine.Event) {
		begin()
		enc.Encode(events.Message{Type: events.Type(ev.Type), Action: events.Action(ev.Action),
			Actor: events.Actor{ID: ev.Actor.ID, Attributes: ev.Actor.Attributes},
			Scope: ev.Scope, Time: ev.Time, TimeNano: ev.TimeNano})
		flush(w)
	})
	if err != nil && !started {
		writeError(w, err)
		return
	}
	begin()
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// auth checks a login with its registry; nothing is stored (the client
// keeps its credentials).
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	var ac registry.AuthConfig
	if err := decodeBody(r, &ac); err != nil {
		writeError(w, err)
		return
	}
	token, err := s.eng.Authenticate(r.Context(), engine.AuthConfig{ServerAddress: ac.ServerAddress,
		Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken})
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, common.ErrorResponse{Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded", IdentityToken: token})
}

// diskUsage is system df: the module's per-kind usage, and the older
// lists (LayersSize, Images, Containers, Volumes) that clients before API
// 1.52 read.
func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := s.eng.DiskUsage(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	imgs, err := s.eng.ListImages(ctx, engine.ImageListOptions{All: true})
	if err != nil {
		writeError(w, err)
		return
	}
	cs, err := s.eng.ListContainers(ctx, engine.ContainerListOptions{All: true})
	if err != nil {
		writeError(w, err)
		return
	}
	var out struct {
		system.DiskUsage
		LayersSize int64
		Images     []image.Summary
		Containers []container.Summary
		Volumes    []volume.Volume
		BuildCache []build.CacheRecord
	}
	out.Images, out.Containers, out.Volumes, out.BuildCache = []image.Summary{}, []container.Summary{}, []volume.Volume{}, []build.CacheRecord{}
	out.LayersSize = d.Images.Size
	users := map[string]int64{}
	for _, c := range cs {
		users[c.ImageID]++
	}
	for _, img := range imgs {
		sum := summary(img)
		sum.Containers = users[img.ID.String()]
		sum.SharedSize = 0
		out.Images = append(out.Images, sum)
	}
	for _, c := range cs {
		in, err := s.eng.InspectContainer(ctx, c.ID, false)
		if err != nil {
			continue
		}
		sum := containerSummary(c, in)
		sum.SizeRw, sum.SizeRootFs = s.eng.ContainerSize(ctx, c)
		out.Containers = append(out.Containers, sum)
	}
	for _, v := range d.Volumes {
		vo := volumeOf(v)
		vo.UsageData = &volume.UsageData{RefCount: int64(len(v.UsedBy)), Size: v.Size()}
		out.Volumes = append(out.Volumes, vo)
	}
	out.ImageUsage = &image.DiskUsage{TotalCount: int64(len(imgs)), ActiveCount: int64(d.Images.Active),
		TotalSize: d.Images.Size, Reclaimable: d.Images.Reclaimable, Items: out.Images}
	out.ContainerUsage = &container.DiskUsage{TotalCount: int64(len(cs)), Items: out.Containers}
	out.VolumeUsage = &volume.DiskUsage{TotalCount: int64(len(out.Volumes)), Items: out.Volumes}
	out.BuildCacheUsage = &build.DiskUsage{TotalCount: int64(d.BuildCache.Records), ActiveCount: int64(d.BuildActive),
		TotalSize: d.BuildCache.Size, Reclaimable: d.BuildReclaimable}
	writeJSON(w, http.StatusOK, out)
}
