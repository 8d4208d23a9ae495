package apiserver

import (
	"encoding/json"
	"net/http"
	"runtime/debug"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/hoistproject/hoist/internal/apiserver/buildkit"
	buildprogress "github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// jsonQuery decodes the JSON-valued query parameter k into v.
func jsonQuery(r *http.Request, k string, v any) error {
	s := r.URL.Query().Get(k)
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return errdefs.InvalidArgumentf("invalid %s: %v", k, err)
	}
	return nil
}

// build is POST /build: the context a tar on the body (or remote), the
// output docker's stream messages, the image ID as the aux message.
func (s *Server) build(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var buildArgs map[string]*string
	var labels map[string]string
	var cacheFrom []string
	for k, v := range map[string]any{"buildargs": &buildArgs, "labels": &labels, "cachefrom": &cacheFrom} {
		if err := jsonQuery(r, k, v); err != nil {
			writeError(w, err)
			return
		}
	}
	tags := q["t"]
	for _, t := range tags {
		if _, err := engine.NormalizeName(t); err != nil {
			writeError(w, errdefs.InvalidArgumentf("invalid tag %q: %v", t, err))
			return
		}
	}
	network := q.Get("networkmode")
	switch network {
	case "":
		network = "default"
	case "default", "none", "host":
	default:
		writeError(w, errdefs.InvalidArgumentf("network mode %q not supported by the builder (default, none, host)", network))
		return
	}
	if p := q.Get("platform"); p != "" && p != "linux" {
		if _, err := engine.ParsePlatform(p); err != nil {
			writeError(w, errdefs.InvalidArgument(err))
			return
		}
	}
	quiet := boolValue(r, "q")
	st := newJSONStream(w)
	opts := engine.BuilderOptions{Tags: tags, Target: q.Get("target"), NoCache: boolValue(r, "nocache"),
		Pull: boolValue(r, "pull"), CacheFrom: cacheFrom, Squash: boolValue(r, "squash"), Network: network,
		ExtraHosts: q["extrahosts"], BuildArgs: map[string]string{}, Labels: labels,
		Progress: st, ProgressMode: buildprogress.Plain}
	if quiet {
		opts.Progress, opts.ProgressMode = nil, buildprogress.Quiet
	}
	for k, v := range buildArgs {
		if v != nil {
			opts.BuildArgs[k] = *v
		}
	}
	src := "-"
	if remote := q.Get("remote"); remote != "" {
		src = remote
	}
	res, err := s.eng.Build(r.Context(), engine.BuildOptions{Options: opts, Source: src, Dockerfile: q.Get("dockerfile"), Stdin: r.Body})
	debug.FreeOSMemory() // the build's buffers go back: the server idles small
	if err != nil {
		st.fail(err)
		return
	}
	aux, _ := json.Marshal(build.Result{ID: res.ID.String()})
	raw := json.RawMessage(aux)
	st.send(jsonstream.Message{Aux: &raw})
	if quiet { // docker's quiet build streams the image ID alone
		st.send(jsonstream.Message{Stream: res.ID.String() + "\n"})
		return
	}
	st.send(jsonstream.Message{Stream: "Successfully built " + engine.ShortID(res.ID) + "\n"})
	for _, t := range tags {
		n, _ := engine.NormalizeName(t)
		st.send(jsonstream.Message{Stream: "Successfully tagged " + engine.Familiar(n) + "\n"})
	}
}

func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) {
	args, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, err := engine.BuilderPruneOptions(boolValue(r, "all"), args, r.URL.Query().Get("keep-storage"))
	if err != nil {
		writeError(w, err)
		return
	}
	rep, err := s.eng.PruneBuildCache(r.Context(), opts)
	if err != nil {
		writeError(w, err)
		return
	}
	deleted := rep.Deleted
	if deleted == nil {
		deleted = []string{}
	}
	writeJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: deleted, SpaceReclaimed: uint64(rep.SpaceReclaimed)})
}

// buildkit answers the connections BuildKit's clients upgrade to h2c
// (buildx's docker driver): POST /grpc, the control and gateway services,
// and POST /session, a build client's session (its files), with serve.
func (s *Server) buildkit(serve func(*buildkit.Server, http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.bk == nil {
			writeError(w, errdefs.NotFoundf("BuildKit's API is not available"))
			return
		}
		if err := serve(s.bk, w, r); err != nil {
			writeError(w, err)
		}
	}
}
