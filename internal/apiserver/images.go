package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
)

// imageFilters are the filter keys of images/json and images/prune.
var imageFilters = []string{"dangling", "label", "reference", "before", "since", "until"}

// summary is an image's images/json entry.
func summary(img engine.Image) image.Summary {
	s := image.Summary{ID: img.ID.String(), Created: img.Created.Unix(), Size: img.Size, Labels: img.Labels,
		ParentID: img.Parent.String(), RepoTags: []string{}, RepoDigests: []string{}, Containers: -1, SharedSize: -1}
	for _, n := range img.Names {
		s.RepoTags = append(s.RepoTags, engine.Familiar(n))
	}
	for _, n := range img.RepoDigests {
		s.RepoDigests = append(s.RepoDigests, engine.Familiar(n))
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	return s
}

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) {
	args, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := engine.ParseFilters(args, imageFilters...)
	if err != nil {
		writeError(w, err)
		return
	}
	imgs, err := s.eng.ListImages(r.Context(), engine.ImageListOptions{All: boolValue(r, "all"), Filters: f})
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]image.Summary, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, summary(img))
	}
	writeJSON(w, http.StatusOK, out)
}

// convert re-reads v, a value in docker's JSON form, as the module's
// type out.
func convert(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (s *Server) imageInspect(w http.ResponseWriter, r *http.Request) {
	in, err := s.eng.InspectImage(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	var out image.InspectResponse
	if err := convert(in, &out); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request) {
	items, err := s.eng.History(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]image.HistoryResponseItem, 0, len(items))
	for _, it := range items {
		tags := []string{}
		for _, t := range it.Tags {
			tags = append(tags, engine.Familiar(t))
		}
		out = append(out, image.HistoryResponseItem{ID: it.ID, Created: it.Created.Unix(), CreatedBy: it.CreatedBy,
			Tags: tags, Size: it.Size, Comment: it.Comment})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) imageTag(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target := q.Get("repo")
	if target == "" {
		writeError(w, errdefs.InvalidArgumentf("repository name must have at least one component"))
		return
	}
	if t := q.Get("tag"); t != "" {
		target += ":" + t
	}
	if err := s.eng.Tag(r.Context(), r.PathValue("name"), target); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) imageDelete(w http.ResponseWriter, r *http.Request) {
	items, err := s.eng.RemoveImage(r.Context(), r.PathValue("name"),
		engine.ImageDeleteOptions{Force: boolValue(r, "force"), NoPrune: boolValue(r, "noprune")})
	if err != nil && len(items) == 0 {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResponses(items))
}

func deleteResponses(items []engine.ImageDeleteItem) []image.DeleteResponse {
	out := make([]image.DeleteResponse, 0, len(items))
	for _, it := range items {
		d := image.DeleteResponse{Deleted: it.Deleted}
		if it.Untagged != "" {
			d.Untagged = engine.Familiar(it.Untagged)
		}
		out = append(out, d)
	}
	return out
}

func (s *Server) imagePrune(w http.ResponseWriter, r *http.Request) {
	args, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	// dangling=false is prune -a; the rest are the image filters
	all := false
	var rest []string
	for _, a := range args {
		switch a {
		case "dangling=false", "dangling=0":
			all = true
		case "dangling=true", "dangling=1":
		default:
			rest = append(rest, a)
		}
	}
	f, err := engine.ParseFilters(rest, "label", "until")
	if err != nil {
		writeError(w, err)
		return
	}
	rep, err := s.eng.PruneImages(r.Context(), engine.ImagePruneOptions{All: all, Filters: f})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, image.PruneReport{ImagesDeleted: deleteResponses(rep.Items), SpaceReclaimed: uint64(rep.Reclaimed)})
}

// registryAuth is the request's X-Registry-Auth (nil: none given; the
// stored logins apply).
func registryAuth(r *http.Request) (*engine.AuthConfig, error) {
	h := r.Header.Get("X-Registry-Auth")
	if h == "" {
		return nil, nil
	}
	ac, err := authconfig.Decode(h)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("invalid X-Registry-Auth header: %v", err)
	}
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return nil, nil
	}
	return &engine.AuthConfig{ServerAddress: ac.ServerAddress, Username: ac.Username, Password: ac.Password,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}, nil
}

// transferRef is the reference of a pull or push (parsed by parse) and
// the request's registry login.
func transferRef(r *http.Request, name string, parse func(string) (reference.Named, error)) (reference.Named, *engine.AuthConfig, error) {
	n, err := parse(name)
	if err != nil {
		return nil, nil, errdefs.InvalidArgument(err)
	}
	auth, err := registryAuth(r)
	return n, auth, err
}

// transferError is a pull's or push's failure as dockerd answers it: a
// registry's refusal of the credentials is not the API's 401 (which makes
// docker's client ask for a login and try again), but the daemon's error.
func transferError(err error) error {
	if errors.Is(err, errdefs.ErrUnauthorized) {
		return errors.New(err.Error())
	}
	return err
}

// progress relays a pull's or push's per-layer events as docker's
// messages.
func progress(st *jsonStream) engine.ProgressFunc {
	return func(ev engine.ProgressEvent) {
		m := jsonstream.Message{Status: ev.Status, ID: ev.ID}
		if ev.Total > 0 || ev.Current > 0 {
			m.Progress = &jsonstream.Progress{Current: ev.Current, Total: ev.Total}
		}
		st.send(m)
	}
}

// imageCreate is pull (fromImage) or import (fromSrc).
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st := newJSONStream(w)
	if src := q.Get("fromSrc"); src != "" {
		s.imageImport(st, r, src)
		return
	}
	from := q.Get("fromImage")
	if from == "" {
		writeError(w, errdefs.InvalidArgumentf("fromImage or fromSrc is required"))
		return
	}
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			from += "@" + tag
		} else {
			from += ":" + tag
		}
	}
	n, auth, err := transferRef(r, from, reference.ParseTagged)
	if err != nil {
		writeError(w, err)
		return
	}
	o := engine.PullOptions{Auth: auth}
	if p := q.Get("platform"); p != "" {
		plat, err := engine.ParsePlatform(p)
		if err != nil {
			writeError(w, errdefs.InvalidArgument(err))
			return
		}
		o.Platform = &plat
	}
	refs := []reference.Named{n}
	o.Pulling = func(ref reference.Named) engine.ProgressFunc {
		st.hold(jsonstream.Message{Status: "Pulling from " + reference.Path(ref), ID: engine.PullLabel(ref)})
		return progress(st)
	}
	o.Pulled = func(res engine.PullResult) { st.send(jsonstream.Message{Status: "Digest: " + res.Digest.String()}) }
	rep, err := s.eng.Pull(r.Context(), refs, o)
	if err != nil {
		st.fail(transferError(err))
		return
	}
	if rep.Fresh {
		st.send(jsonstream.Message{Status: "Status: Downloaded newer image for " + reference.Familiar(rep.Last.Name)})
	} else {
		st.send(jsonstream.Message{Status: "Status: Image is up to date for " + reference.Familiar(rep.Last.Name)})
	}
}

// imageImport is images/create?fromSrc=-|URL: the tar on the body or at
// the URL, named repo:tag.
func (s *Server) imageImport(st *jsonStream, r *http.Request, src string) {
	q := r.URL.Query()
	name := q.Get("repo")
	if name != "" && q.Get("tag") != "" {
		name += ":" + q.Get("tag")
	}
	o := engine.ImportOptions{ImportOptions: engine.ImageImportOptions{Name: name, Changes: q["changes"], Message: q.Get("message")},
		Platform: q.Get("platform")}
	if src != "-" && !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		// A path would be one on the server's host.
		st.fail(errdefs.InvalidArgumentf("fromSrc must be - (the request body) or an http(s) URL: %q", src))
		return
	}
	img, err := s.eng.Import(r.Context(), src, r.Body, o)
	if err != nil {
		st.fail(err)
		return
	}
	st.send(jsonstream.Message{Status: img.ID.String()})
}

func (s *Server) imagePush(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if t := r.URL.Query().Get("tag"); t != "" {
		name += ":" + t
	}
	n, auth, err := transferRef(r, name, reference.ParseNamed)
	if err != nil {
		writeError(w, err)
		return
	}
	st := newJSONStream(w)
	st.send(jsonstream.Message{Status: "The push refers to repository [" + n.Name() + "]"})
	err = s.eng.Push(r.Context(), n, engine.PushOptions{Auth: auth, Progress: progress(st), Pushed: func(p engine.PushedTag) {
		st.send(jsonstream.Message{Status: fmt.Sprintf("%s: digest: %s size: %d", p.Tag, p.Digest, p.Size)})
		aux, _ := json.Marshal(map[string]any{"Tag": p.Tag, "Digest": p.Digest.String(), "Size": p.Size})
		raw := json.RawMessage(aux)
		st.send(jsonstream.Message{Aux: &raw})
	}})
	if err != nil {
		st.fail(transferError(err))
	}
}

// distributionInspect is GET /distribution/NAME/json: the registry's
// descriptor of NAME and its platforms (buildx asks it after a push).
func (s *Server) distributionInspect(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("name"), "/json")
	if !ok {
		writeError(w, errdefs.NotFoundf("page not found"))
		return
	}
	n, auth, err := transferRef(r, name, reference.ParseNamed)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := s.eng.DistributionInspect(r.Context(), n, auth)
	if err != nil {
		writeError(w, transferError(err))
		return
	}
	writeJSON(w, http.StatusOK, registry.DistributionInspect{Descriptor: info.Descriptor, Platforms: info.Platforms})
}

// imageSave is images/NAME/get and images/get?names=...: one archive.
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["names"]
	if n := r.PathValue("name"); n != "" {
		names = []string{n}
	}
	set, err := s.eng.SelectForSave(r.Context(), names)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	s.eng.Save(r.Context(), w, set) // a failure cuts the stream, as docker's
}

func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) {
	quiet := boolValue(r, "quiet")
	st := newJSONStream(w)
	o := engine.LoadOptions{Stdin: r.Body, Loaded: func(img engine.Image, names []reference.Named) {
		if len(names) == 0 {
			st.send(jsonstream.Message{Stream: "Loaded image ID: " + img.ID.String() + "\n"})
		}
		for _, n := range names {
			st.send(jsonstream.Message{Stream: "Loaded image: " + reference.Familiar(n) + "\n"})
		}
	}}
	if !quiet {
		o.Progress = func(member string, cur, total int64) {
			st.send(jsonstream.Message{Status: "Loading layer", ID: member, Progress: &jsonstream.Progress{Current: cur, Total: total}})
		}
	}
	if err := s.eng.Load(r.Context(), o); err != nil {
		st.fail(err)
		return
	}
	st.start()
}

func (s *Server) imageSearch(w http.ResponseWriter, r *http.Request) {
	args, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	limit, err := intValue(r, "limit", 25)
	if err != nil {
		writeError(w, err)
		return
	}
	auth, err := registryAuth(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.eng.Search(r.Context(), r.URL.Query().Get("term"), limit, args, auth)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]registry.SearchResult, 0, len(res))
	for _, x := range res {
		out = append(out, registry.SearchResult{Name: x.Name, Description: x.Description, StarCount: x.StarCount,
			IsOfficial: x.IsOfficial})
	}
	writeJSON(w, http.StatusOK, out)
}

// commit is POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=.
func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("repo")
	if name != "" && q.Get("tag") != "" {
		name += ":" + q.Get("tag")
	}
	pause := q.Get("pause") == "" || boolValue(r, "pause")
	id, err := s.eng.Commit(r.Context(), q.Get("container"), engine.CommitOptions{Name: name,
		Author: q.Get("author"), Message: q.Get("comment"), Changes: q["changes"], Pause: pause})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: id})
}
