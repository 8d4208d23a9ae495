package buildkit

import (
	"context"

	apitypes "github.com/moby/buildkit/api/types"
	"github.com/moby/buildkit/client/buildid"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/util/apicaps"
	capspb "github.com/moby/buildkit/util/apicaps/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gateway is BuildKit's gateway service (moby.buildkit.v1.frontend.
// LLBBridge) as buildx's client uses it: Ping, one Solve with the
// dockerfile frontend, Return of its result.
type gateway struct {
	gwpb.UnimplementedLLBBridgeServer
	s *Server
}

// The capabilities answered to Ping: a solve that returns its result
// (refs by ID) and the Return call; none of LLB's (the client sends no
// LLB). Clients leave out what is not listed.
var frontendCaps = []apicaps.CapID{gwpb.CapSolveBase, gwpb.CapSolveInlineReturn, gwpb.CapReturnResult}

func (g *gateway) Ping(context.Context, *gwpb.PingRequest) (*gwpb.PongResponse, error) {
	caps := make([]*capspb.APICap, 0, len(frontendCaps))
	for _, c := range frontendCaps {
		caps = append(caps, &capspb.APICap{ID: string(c), Enabled: true})
	}
	w := (&control{s: g.s}).worker()
	return &gwpb.PongResponse{FrontendAPICaps: caps, LLBCaps: []*capspb.APICap{}, Workers: []*apitypes.WorkerRecord{w}}, nil
}

// Solve runs the Dockerfile build the client asks for; the result's ref
// is the image ID.
func (g *gateway) Solve(ctx context.Context, req *gwpb.SolveRequest) (*gwpb.SolveResponse, error) {
	b, err := g.s.registered(ctx, buildid.FromIncomingContext(ctx))
	if err != nil {
		return nil, err
	}
	if req.Definition != nil && len(req.Definition.Def) > 0 {
		return nil, status.Error(codes.Unimplemented, "LLB definitions are not supported by hoist's builder: it builds Dockerfiles (frontend dockerfile.v0)")
	}
	if len(req.FrontendInputs) > 0 {
		return nil, status.Error(codes.Unimplemented, "frontend inputs (named contexts from other builds) are not supported by hoist's builder")
	}
	image, err := g.s.build(ctx, b, req.Frontend, req.FrontendOpt, int(builds.Add(1)))
	if err != nil {
		return nil, err
	}
	if !req.AllowResultReturn {
		return &gwpb.SolveResponse{Ref: image}, nil
	}
	return &gwpb.SolveResponse{Ref: image, Result: &gwpb.Result{Result: &gwpb.Result_RefDeprecated{RefDeprecated: image}}}, nil
}

// Return hands the client's final result (or error) to its Solve.
func (g *gateway) Return(ctx context.Context, req *gwpb.ReturnRequest) (*gwpb.ReturnResponse, error) {
	b, err := g.s.registered(ctx, buildid.FromIncomingContext(ctx))
	if err != nil {
		return nil, err
	}
	select {
	case b.returned <- req:
		return &gwpb.ReturnResponse{}, nil
	default:
		return nil, status.Errorf(codes.AlreadyExists, "build %s has returned already", b.ref)
	}
}

// Warn shows a frontend's warning (clients send them for their own
// checks).
func (g *gateway) Warn(ctx context.Context, req *gwpb.WarnRequest) (*gwpb.WarnResponse, error) {
	b, err := g.s.registered(ctx, buildid.FromIncomingContext(ctx))
	if err != nil {
		return nil, err
	}
	b.events.add(warning(string(req.Short)))
	return &gwpb.WarnResponse{}, nil
}

// Inputs: a build has none (named contexts are refused).
func (g *gateway) Inputs(context.Context, *gwpb.InputsRequest) (*gwpb.InputsResponse, error) {
	return &gwpb.InputsResponse{}, nil
}

// result is the image a Return names: one this solve built.
func (b *solve) result(ret *gwpb.ReturnRequest) (string, error) {
	var id string
	switch r := ret.GetResult().GetResult().(type) {
	case nil:
		return "", nil
	case *gwpb.Result_RefDeprecated:
		id = r.RefDeprecated
	case *gwpb.Result_Ref:
		id = r.Ref.GetId()
	default:
		return "", status.Error(codes.Unimplemented, "hoist's builder returns one image per build: results with several refs are not supported")
	}
	if id == "" {
		return "", nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.images[id] {
		return "", status.Errorf(codes.NotFound, "the result %s is not an image this build made", id)
	}
	return id, nil
}
