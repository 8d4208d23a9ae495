package buildkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	controlapi "github.com/moby/buildkit/api/services/control"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/filesync"
	"github.com/moby/buildkit/session/secrets"
	"github.com/opencontainers/go-digest"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hoistproject/hoist/internal/builder/output"
	buildprogress "github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
)

// solve is one client build (one Solve of the control service), with the
// gateway calls and status streams that name its reference.
type solve struct {
	ref        string
	registered chan struct{} // closed when the control Solve arrived
	req        *controlapi.SolveRequest
	events     hub
	returned   chan *gwpb.ReturnRequest // the gateway's Return (buffered)

	mu     sync.Mutex
	images map[string]bool // image IDs this solve's gateway Solves built
}

func newSolve(ref string) *solve {
	return &solve{ref: ref, registered: make(chan struct{}), returned: make(chan *gwpb.ReturnRequest, 1),
		images: map[string]bool{}, events: hub{wake: make(chan struct{})}}
}

// hub keeps a solve's status messages for the streams that read them,
// from the first, whenever they start.
type hub struct {
	mu   sync.Mutex
	msgs []*controlapi.StatusResponse
	done bool
	wake chan struct{} // closed (and replaced) on every change
}

func (h *hub) add(m *controlapi.StatusResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.msgs = append(h.msgs, m)
	close(h.wake)
	h.wake = make(chan struct{})
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.done = true
		close(h.wake)
	}
}

// stream sends every message, waiting for more, until the hub closes or
// ctx ends.
func (h *hub) stream(ctx context.Context, send func(*controlapi.StatusResponse) error) error {
	next := 0
	for {
		h.mu.Lock()
		batch, done, wake := h.msgs[next:], h.done, h.wake
		next = len(h.msgs)
		h.mu.Unlock()
		if len(batch) > 0 {
			merged := &controlapi.StatusResponse{}
			for _, m := range batch {
				merged.Vertexes = append(merged.Vertexes, m.Vertexes...)
				merged.Logs = append(merged.Logs, m.Logs...)
				merged.Warnings = append(merged.Warnings, m.Warnings...)
				merged.Statuses = append(merged.Statuses, m.Statuses...)
			}
			if err := send(merged); err != nil {
				return err
			}
			continue
		}
		if done {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// vertex is a step shown to the client; its digest names it in the
// status stream.
type vertex struct {
	digest  string
	name    string
	started time.Time
}

func (b *solve) newVertex(kind string, n int, name string) *vertex {
	return &vertex{digest: digest.FromString(fmt.Sprintf("hoist:%s:%s:%d", b.ref, kind, n)).String(), name: name, started: time.Now()}
}

func (b *solve) startVertex(v *vertex) {
	b.events.add(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{{Digest: v.digest, Name: v.name, Started: timestamppb.New(v.started)}}})
}

func (b *solve) endVertex(v *vertex, cached bool, err error) {
	pv := &controlapi.Vertex{Digest: v.digest, Name: v.name, Started: timestamppb.New(v.started), Completed: timestamppb.Now(), Cached: cached}
	if err != nil {
		pv.Error = err.Error()
	}
	b.events.add(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{pv}})
}

func (b *solve) logVertex(v *vertex, line string) {
	b.events.add(&controlapi.StatusResponse{Logs: []*controlapi.VertexLog{{Vertex: v.digest, Timestamp: timestamppb.Now(), Stream: 1, Msg: []byte(line + "\n")}}})
}

// observe turns the builder's progress events into status messages.
func (b *solve) observe(build int) buildprogress.Observer {
	vs := map[int]*vertex{}
	return func(e buildprogress.Event) {
		if e.Vertex == 0 { // a warning outside any step
			b.events.add(warning(e.Log))
			return
		}
		v := vs[e.Vertex]
		if v == nil {
			v = b.newVertex(fmt.Sprintf("build%d", build), e.Vertex, e.Name)
			v.started = e.Started
			vs[e.Vertex] = v
			b.startVertex(v)
		}
		switch {
		case e.Log != "":
			b.logVertex(v, e.Log)
		case !e.Completed.IsZero():
			b.endVertex(v, e.Cached, e.Err)
		}
	}
}

// warning is a status message of one warning.
func warning(msg string) *controlapi.StatusResponse {
	return &controlapi.StatusResponse{Warnings: []*controlapi.VertexWarning{{Level: 1, Short: []byte(msg)}}}
}

// exporter is what a solve's result becomes: an image with names
// (BuildKit's moby or image exporter), or files sent to the client (local:
// a directory, tar: one stream) through its session's target id.
type exporter struct {
	kind  string // "image", "local" or "tar"
	names []string
	id    int
}

// readExporter reads the solve's exporter; others are refused.
func readExporter(req *controlapi.SolveRequest) (exporter, error) {
	exps := req.Exporters
	if len(exps) == 0 && req.ExporterDeprecated != "" {
		exps = []*controlapi.Exporter{{Type: req.ExporterDeprecated, Attrs: req.ExporterAttrsDeprecated}}
	}
	if len(exps) > 1 {
		return exporter{}, status.Error(codes.Unimplemented, "hoist's builder exports one result per build: multiple outputs are not supported")
	}
	ex := exporter{kind: "image"}
	for i, e := range exps {
		ex.id = i
		switch e.Type {
		case "moby", "image":
		case "local", "tar":
			ex.kind = e.Type
			continue
		default:
			return exporter{}, status.Errorf(codes.Unimplemented, "exporter %q is not supported by hoist's builder (image, local, tar)", e.Type)
		}
		for _, n := range strings.Split(e.Attrs["name"], ",") {
			if n = strings.TrimSpace(n); n != "" {
				if _, err := engine.NormalizeName(n); err != nil {
					return exporter{}, status.Errorf(codes.InvalidArgument, "invalid tag %q: %v", n, err)
				}
				ex.names = append(ex.names, n)
			}
		}
	}
	return ex, nil
}

// exportResponse is what the image exporter answers: the image and its
// names (the builder tagged them, as dockerd's moby exporter does).
func exportResponse(image string, names []string) map[string]string {
	return map[string]string{
		"containerimage.digest":        image,
		"containerimage.config.digest": image,
		"image.name":                   strings.Join(names, ","),
	}
}

// build runs one Dockerfile build (frontend dockerfile.v0 with attrs) of
// the solve, its context fetched from the client's session, and returns
// the image ID.
func (s *Server) build(ctx context.Context, b *solve, frontend string, attrs map[string]string, n int) (string, error) {
	if frontend != "dockerfile.v0" {
		return "", status.Errorf(codes.Unimplemented, "frontend %q is not supported by hoist's builder (it builds Dockerfiles: dockerfile.v0)", frontend)
	}
	opts, err := builderOptions(attrs)
	if err != nil {
		return "", err
	}
	ex, err := readExporter(b.req)
	if err != nil {
		return "", err
	}
	opts.Tags = ex.names // an image exporter's names are the build's tags
	opts.ProgressMode = buildprogress.Quiet
	opts.ProgressObserver = b.observe(n)
	bo := engine.BuildOptions{Options: opts}
	var caller session.Caller // the client's session, for a local context
	if src := attrs["context"]; src != "" && !strings.HasPrefix(src, "input:") && !strings.HasPrefix(src, "local:") {
		bo.Source, bo.Dockerfile = src, attrs["filename"] // a remote context (URL)
	} else {
		wctx, cancel := context.WithTimeout(ctx, solveWait)
		caller, err = s.sm.Get(wctx, b.req.Session, false)
		cancel()
		if err != nil {
			return "", status.Errorf(codes.FailedPrecondition, "no session %s for the build context: %v", b.req.Session, err)
		}
		opts.SecretSource = func(ctx context.Context, id string) ([]byte, bool, error) {
			data, err := secrets.GetSecret(ctx, caller, id)
			// A client that attached no secrets has none.
			if errors.Is(err, secrets.ErrNotFound) || status.Code(err) == codes.Unimplemented {
				return nil, false, nil
			}
			return data, err == nil, err
		}
		bo.Options = opts
		bo.Remote = &engine.RemoteContext{Key: caller.SharedKey(), ContextName: attrOr(attrs, "contextkey", "context"),
			DockerfileName: attrOr(attrs, "dockerfilekey", "dockerfile"), Filename: attrs["filename"],
			Fetch: s.fetcher(b, caller)}
	}
	var send func() error
	if ex.kind != "image" {
		if caller == nil {
			return "", status.Errorf(codes.Unimplemented, "the %s exporter needs a client session (a local build context)", ex.kind)
		}
		if send, err = exportFiles(ctx, caller, ex, &bo); err != nil {
			return "", err
		}
	}
	res, err := s.eng.Build(ctx, bo)
	if err == nil && send != nil {
		err = send()
	}
	if err != nil {
		return "", grpcError(err)
	}
	id := res.ID.String()
	if id == "" { // files were exported: the result names the build
		id = fmt.Sprintf("hoist-export-%d", n)
	}
	b.mu.Lock()
	b.images[id] = true
	b.mu.Unlock()
	return id, nil
}

// exportFiles points the build's output at the client's session: a tar
// stream written to the client's target as it is made, or a directory
// made here and sent when the build is done (send); the directory goes
// when sent.
func exportFiles(ctx context.Context, caller session.Caller, ex exporter, bo *engine.BuildOptions) (send func() error, err error) {
	if ex.kind == "tar" {
		w, err := filesync.CopyFileWriter(ctx, nil, ex.id, caller)
		if err != nil {
			return nil, err
		}
		bo.Output = &output.Output{Type: "tar", Dest: "-", W: w}
		return w.Close, nil
	}
	dir, err := os.MkdirTemp("", "hoist-output-")
	if err != nil {
		return nil, err
	}
	bo.Output = &output.Output{Type: "local", Dest: dir}
	return func() error {
		defer os.RemoveAll(dir)
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return err
		}
		return filesync.CopyToCaller(ctx, fs, ex.id, caller, nil)
	}, nil
}

func attrOr(attrs map[string]string, k, def string) string {
	if v := attrs[k]; v != "" {
		return v
	}
	return def
}

// fetcher mirrors the client's directories through its session, shown as
// BuildKit's "[internal] load ..." steps.
func (s *Server) fetcher(b *solve, caller session.Caller) func(ctx context.Context, name, dest string, include, exclude []string) error {
	n := 0
	return func(ctx context.Context, name, dest string, include, exclude []string) error {
		n++
		label := "build context"
		switch {
		case len(include) == 1 && include[0] == ".dockerignore":
			label = ".dockerignore"
		case len(include) > 0:
			label = "build definition from " + include[0]
		}
		v := b.newVertex("load", n, "[internal] load "+label)
		b.startVertex(v)
		var bytes int
		err := filesync.FSSync(ctx, caller, filesync.FSSendRequestOpt{
			Name: name, IncludePatterns: include, ExcludePatterns: exclude, DestDir: dest,
			// Ownership is the builder's to set (COPY makes files root's
			// unless --chown): the client's IDs mean nothing here.
			Filter: func(_ string, st *fstypes.Stat) bool {
				st.Uid, st.Gid = 0, 0
				return true
			},
			ProgressCb: func(n int, last bool) { bytes = n },
		})
		if err == nil && bytes > 0 {
			b.logVertex(v, fmt.Sprintf("transferring %s: %s", name, units.HumanSize(int64(bytes), 4)))
		}
		if err != nil {
			err = fmt.Errorf("transferring %s from the client: %w", name, err)
		}
		b.endVertex(v, false, err)
		return err
	}
}

// builderOptions reads the dockerfile frontend's attributes (buildx's
// flags) into the builder's options; those hoist's builder cannot honour
// are refused by name.
func builderOptions(attrs map[string]string) (engine.BuilderOptions, error) {
	o := engine.BuilderOptions{BuildArgs: map[string]string{}, Labels: map[string]string{}, Network: "default"}
	for k, v := range attrs {
		switch {
		case strings.HasPrefix(k, "build-arg:"):
			o.BuildArgs[strings.TrimPrefix(k, "build-arg:")] = v
		case strings.HasPrefix(k, "label:"):
			o.Labels[strings.TrimPrefix(k, "label:")] = v
		case strings.HasPrefix(k, "context:"):
			return o, status.Errorf(codes.Unimplemented, "named build contexts (--build-context %s) are not supported by hoist's builder", strings.TrimPrefix(k, "context:"))
		}
	}
	if id := attrs["requestid"]; strings.HasPrefix(id, "frontend.") {
		return o, status.Errorf(codes.Unimplemented, "build subrequests (--call %s, --check) are not supported by hoist's builder", strings.TrimPrefix(id, "frontend."))
	}
	o.Target = attrs["target"]
	_, o.NoCache = attrs["no-cache"]
	o.Pull = attrs["image-resolve-mode"] == "pull"
	switch m := attrs["force-network-mode"]; m {
	case "", "sandbox", "default":
	case "none", "host":
		o.Network = m
	default:
		return o, status.Errorf(codes.InvalidArgument, "network mode %q not supported by the builder (default, none, host)", m)
	}
	if h := attrs["add-hosts"]; h != "" {
		for _, e := range strings.Split(h, ",") {
			if e = strings.TrimSpace(e); e != "" {
				// BuildKit's host=ip is docker's host:ip.
				o.ExtraHosts = append(o.ExtraHosts, strings.Replace(e, "=", ":", 1))
			}
		}
	}
	if p := attrs["platform"]; p != "" {
		for _, one := range strings.Split(p, ",") {
			pl, err := engine.ParsePlatform(one)
			if err != nil {
				return o, status.Error(codes.InvalidArgument, err.Error())
			}
			if pl.OS != "linux" || pl.Architecture != runtime.GOARCH {
				return o, status.Errorf(codes.Unimplemented, "hoist's builder builds for this machine's platform (linux/%s), not %s", runtime.GOARCH, one)
			}
		}
	}
	o.Resources.CgroupParent = attrs["cgroup-parent"]
	if u := attrs["ulimit"]; u != "" {
		o.Resources.Ulimits = strings.Split(u, ",")
	}
	return o, nil
}
