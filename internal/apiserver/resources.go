package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/volume"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// archivePath is the path parameter of an archive request: absolute,
// with no ".." component (refused rather than resolved).
func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.InvalidArgumentf("path is required")
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return "", errdefs.InvalidArgumentf("invalid path %q: a path with '..' is refused", p)
	}
	if !path.IsAbs(p) {
		p = "/" + p
	}
	return p, nil
}

// statHeader answers the stat of the path as docker's
// X-Docker-Container-Path-Stat header.
func (s *Server) statHeader(w http.ResponseWriter, r *http.Request) (id, p string, ok bool) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, err)
		return "", "", false
	}
	id, err = s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return "", "", false
	}
	fi, err := s.eng.StatPath(r.Context(), id, p)
	if err != nil {
		if errdefs.IsNotFound(err) || strings.Contains(err.Error(), "no such file") {
			err = errdefs.NotFoundf("Could not find the file %s in container %s", p, r.PathValue("id"))
		}
		writeError(w, err)
		return "", "", false
	}
	b, _ := json.Marshal(container.PathStat{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()})
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
	return id, p, true
}

func (s *Server) archiveHead(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.statHeader(w, r); ok {
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) {
	id, p, ok := s.statHeader(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	s.eng.CopyFrom(r.Context(), id, p, false, "", w)
}

func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	err = s.eng.CopyTo(r.Context(), r.PathValue("id"), p, r.Body)
	if err != nil && !errdefs.IsNotFound(err) && strings.Contains(err.Error(), "no such file") {
		err = errdefs.NotFound(err)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// volumeOf is docker's volume object.
func volumeOf(v engine.Volume) volume.Volume {
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return volume.Volume{Name: v.Name, Driver: "local", Mountpoint: v.Mountpoint, Labels: labels, Scope: "local",
		Options: map[string]string{}, CreatedAt: v.CreatedAt.Format(time.RFC3339)}
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) {
	filters, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	vs, err := s.eng.Volumes(r.Context(), filters)
	if err != nil {
		writeError(w, err)
		return
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
	for _, v := range vs {
		out.Volumes = append(out.Volumes, volumeOf(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) {
	var req volume.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Driver != "" && req.Driver != "local" {
		writeError(w, errdefs.NotFoundf("plugin %q not found", req.Driver))
		return
	}
	if len(req.DriverOpts) > 0 {
		writeError(w, errdefs.InvalidArgumentf("volume driver options are not supported by hoist"))
		return
	}
	name, err := s.eng.CreateVolume(r.Context(), req.Name, req.Labels)
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.eng.Volume(r.Context(), name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, volumeOf(v))
}

func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) {
	v, err := s.eng.Volume(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, volumeOf(v))
}

func (s *Server) volumeDelete(w http.ResponseWriter, r *http.Request) {
	noContent(w, s.eng.RemoveVolume(r.Context(), r.PathValue("name"), boolValue(r, "force")))
}

func (s *Server) volumePrune(w http.ResponseWriter, r *http.Request) {
	names, reclaimed, err := s.eng.PruneVolumes(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, volume.PruneReport{VolumesDeleted: names, SpaceReclaimed: uint64(reclaimed)})
}
