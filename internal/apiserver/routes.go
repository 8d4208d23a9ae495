package apiserver

import (
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/common"

	"github.com/hoistproject/hoist/internal/apiserver/buildkit"
)

// routes registers docker's paths (without their version prefix).
func (s *Server) routes() {
	m := s.mux
	// system
	m.HandleFunc("GET /_ping", s.ping)
	m.HandleFunc("HEAD /_ping", s.ping)
	m.HandleFunc("GET /version", s.version)
	m.HandleFunc("GET /info", s.info)
	m.HandleFunc("GET /events", s.events)
	m.HandleFunc("GET /system/df", s.diskUsage)
	m.HandleFunc("POST /auth", s.auth)

	// images: names hold slashes, so /images/NAME/ACTION is split here
	m.HandleFunc("GET /images/json", s.imageList)
	m.HandleFunc("POST /images/create", s.imageCreate)
	m.HandleFunc("POST /images/load", s.imageLoad)
	m.HandleFunc("GET /images/get", s.imageSave)
	m.HandleFunc("GET /images/search", s.imageSearch)
	m.HandleFunc("POST /images/prune", s.imagePrune)
	m.HandleFunc("POST /build", s.build)
	m.HandleFunc("POST /build/prune", s.buildPrune)
	m.HandleFunc("GET /distribution/{name...}", s.distributionInspect)
	m.HandleFunc("POST /grpc", s.buildkit((*buildkit.Server).ServeGRPC))
	m.HandleFunc("POST /session", s.buildkit((*buildkit.Server).ServeSession))
	m.HandleFunc("POST /commit", s.commit)
	m.HandleFunc("DELETE /images/{name...}", s.imageDelete)
	m.HandleFunc("/images/{rest...}", s.imageAction)

	// containers
	m.HandleFunc("GET /containers/json", s.containerList)
	m.HandleFunc("POST /containers/create", s.containerCreate)
	m.HandleFunc("POST /containers/prune", s.containerPrune)
	m.HandleFunc("GET /containers/{id}/json", s.containerInspect)
	m.HandleFunc("POST /containers/{id}/start", s.containerStart)
	m.HandleFunc("POST /containers/{id}/stop", s.containerStop)
	m.HandleFunc("POST /containers/{id}/restart", s.containerRestart)
	m.HandleFunc("POST /containers/{id}/kill", s.containerKill)
	m.HandleFunc("POST /containers/{id}/wait", s.containerWait)
	m.HandleFunc("POST /containers/{id}/attach", s.containerAttach)
	m.HandleFunc("POST /containers/{id}/resize", s.containerResize)
	m.HandleFunc("GET /containers/{id}/logs", s.containerLogs)
	m.HandleFunc("GET /containers/{id}/top", s.containerTop)
	m.HandleFunc("GET /containers/{id}/stats", s.containerStats)
	m.HandleFunc("GET /containers/{id}/changes", s.containerChanges)
	m.HandleFunc("GET /containers/{id}/export", s.containerExport)
	m.HandleFunc("GET /containers/{id}/archive", s.archiveGet)
	m.HandleFunc("HEAD /containers/{id}/archive", s.archiveHead)
	m.HandleFunc("PUT /containers/{id}/archive", s.archivePut)
	m.HandleFunc("POST /containers/{id}/rename", s.containerRename)
	m.HandleFunc("POST /containers/{id}/pause", s.containerPause)
	m.HandleFunc("POST /containers/{id}/unpause", s.containerUnpause)
	m.HandleFunc("POST /containers/{id}/update", s.containerUpdate)
	m.HandleFunc("DELETE /containers/{id}", s.containerDelete)

	// exec
	m.HandleFunc("POST /containers/{id}/exec", s.execCreate)
	m.HandleFunc("POST /exec/{id}/start", s.execStart)
	m.HandleFunc("POST /exec/{id}/resize", s.execResize)
	m.HandleFunc("GET /exec/{id}/json", s.execInspect)

	// volumes
	m.HandleFunc("GET /volumes", s.volumeList)
	m.HandleFunc("POST /volumes/create", s.volumeCreate)
	m.HandleFunc("POST /volumes/prune", s.volumePrune)
	m.HandleFunc("GET /volumes/{name}", s.volumeInspect)
	m.HandleFunc("DELETE /volumes/{name}", s.volumeDelete)

	// networks
	m.HandleFunc("GET /networks", s.networkList)
	m.HandleFunc("POST /networks/create", s.networkCreate)
	m.HandleFunc("POST /networks/prune", s.networkPrune)
	m.HandleFunc("GET /networks/{id}", s.networkInspect)
	m.HandleFunc("DELETE /networks/{id}", s.networkDelete)
	m.HandleFunc("POST /networks/{id}/connect", s.networkConnect)
	m.HandleFunc("POST /networks/{id}/disconnect", s.networkDisconnect)

	m.HandleFunc("/", s.notFound)
}

// imageAction routes /images/NAME/ACTION, NAME holding slashes.
func (s *Server) imageAction(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		s.notFound(w, r)
		return
	}
	name, action := rest[:i], rest[i+1:]
	r.SetPathValue("name", name)
	switch {
	case r.Method == http.MethodGet && action == "json":
		s.imageInspect(w, r)
	case r.Method == http.MethodGet && action == "history":
		s.imageHistory(w, r)
	case r.Method == http.MethodGet && action == "get":
		s.imageSave(w, r)
	case r.Method == http.MethodPost && action == "tag":
		s.imageTag(w, r)
	case r.Method == http.MethodPost && action == "push":
		s.imagePush(w, r)
	default:
		s.notFound(w, r)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, common.ErrorResponse{Message: "page not found"})
}
