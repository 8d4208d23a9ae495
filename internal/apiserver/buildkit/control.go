package buildkit

import (
	"context"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	controlapi "github.com/moby/buildkit/api/services/control"
	apitypes "github.com/moby/buildkit/api/types"
	"github.com/moby/buildkit/solver/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hoistproject/hoist/internal/engine"
)

// control is BuildKit's control service (moby.buildkit.v1.Control).
type control struct {
	controlapi.UnimplementedControlServer
	s *Server
}

// worker is the one worker: this machine's platform, run by the engine's
// runtime.
func (c *control) worker() *apitypes.WorkerRecord {
	return &apitypes.WorkerRecord{ID: "hoist",
		Labels:          map[string]string{"org.mobyproject.buildkit.worker.executor": "oci"},
		Platforms:       []*pb.Platform{{OS: "linux", Architecture: runtime.GOARCH}},
		BuildkitVersion: c.buildkitVersion()}
}

func (c *control) buildkitVersion() *apitypes.BuildkitVersion {
	return &apitypes.BuildkitVersion{Package: "github.com/hoistproject/hoist", Version: c.s.version}
}

func (c *control) ListWorkers(context.Context, *controlapi.ListWorkersRequest) (*controlapi.ListWorkersResponse, error) {
	return &controlapi.ListWorkersResponse{Record: []*apitypes.WorkerRecord{c.worker()}}, nil
}

func (c *control) Info(context.Context, *controlapi.InfoRequest) (*controlapi.InfoResponse, error) {
	return &controlapi.InfoResponse{BuildkitVersion: c.buildkitVersion()}, nil
}

// builds numbers the builds of this process (their vertices' digests).
var builds atomic.Int64

// Solve is one client build: with the dockerfile frontend named here it
// builds at once; with none (buildx's way) the client's gateway calls
// build, and their Return is the result; either way the image is then
// exported (named).
func (c *control) Solve(ctx context.Context, req *controlapi.SolveRequest) (*controlapi.SolveResponse, error) {
	s := c.s
	if req.Ref == "" {
		return nil, status.Error(codes.InvalidArgument, "a Solve needs a build reference (Ref)")
	}
	b, err := s.register(req)
	if err != nil {
		return nil, err
	}
	defer s.forget(b)
	defer b.events.close()
	// A build's buffers (the context's transfer, the layers' tar and
	// hashes) go back to the system once it is over: the server idles
	// small between builds.
	defer debug.FreeOSMemory()

	ex, err := readExporter(req)
	if err != nil {
		return nil, err
	}
	if req.Definition != nil && len(req.Definition.Def) > 0 {
		return nil, status.Error(codes.Unimplemented, "LLB definitions are not supported by hoist's builder: it builds Dockerfiles (frontend dockerfile.v0)")
	}
	var image string
	if req.Frontend != "" {
		if image, err = s.build(ctx, b, req.Frontend, req.FrontendAttrs, int(builds.Add(1))); err != nil {
			return nil, err
		}
	} else {
		select {
		case ret := <-b.returned:
			if ret.Error != nil {
				return nil, status.ErrorProto(ret.Error)
			}
			if image, err = b.result(ret); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if image == "" || ex.kind != "image" || len(req.Exporters)+len(req.ExporterDeprecated) == 0 {
		return &controlapi.SolveResponse{}, nil
	}
	return &controlapi.SolveResponse{ExporterResponse: exportResponse(image, ex.names)}, nil
}

// Status streams the events of a build, from its first, until it ends.
func (c *control) Status(req *controlapi.StatusRequest, stream grpc.ServerStreamingServer[controlapi.StatusResponse]) error {
	if req.Ref == "" {
		return status.Error(codes.InvalidArgument, "a Status needs a build reference (Ref)")
	}
	b := c.s.solveFor(req.Ref)
	defer c.s.dropUnregistered(b)
	return b.events.stream(stream.Context(), stream.Send)
}

// Prune is buildx prune (and docker builder prune, which buildx takes
// over): builder prune's rules; each removed record is sent, without its
// size (the report has only the total: it goes on the first).
func (c *control) Prune(req *controlapi.PruneRequest, stream grpc.ServerStreamingServer[controlapi.UsageRecord]) error {
	for _, f := range req.Filter {
		if f == "" {
			continue
		}
		return status.Errorf(codes.Unimplemented, "build cache filter %q is not supported by hoist's builder (use --filter until=DURATION)", f)
	}
	keep := req.ReservedSpace
	if keep == 0 {
		keep = req.MaxUsedSpace
	}
	opts, err := engine.BuilderPruneOptions(req.All, nil, strconv.FormatInt(keep, 10))
	if err != nil {
		return grpcError(err)
	}
	opts.KeepDuration = time.Duration(req.KeepDuration)
	rep, err := c.s.eng.PruneBuildCache(stream.Context(), opts)
	if err != nil {
		return grpcError(err)
	}
	for i, id := range rep.Deleted {
		r := &controlapi.UsageRecord{ID: id}
		if i == 0 {
			r.Size = rep.SpaceReclaimed
		}
		if err := stream.Send(r); err != nil {
			return err
		}
	}
	return nil
}
