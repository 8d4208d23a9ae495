package builder

import (
	"context"
	"fmt"

	"github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// squash implements --squash as docker's daemon does (SquashImage): the
// unsquashed image is stored untagged, then a copy of its config whose
// layers are the base's plus ONE layer holding every change the stage made
// on top of its base (the FROM image or stage; scratch: all of them). The
// history is kept, every entry after the base's marked empty_layer, and an
// entry "merge <unsquashed ID> to <base ID>" ("create new from <ID>" on
// scratch) describes the new layer. Unlike docker, whose squash is stamped
// with the current time, the new entry and the image take the unsquashed
// image's created time, so a cached rebuild gives the same image ID; the
// squashed layer is a cache record of its own (keyed by the unsquashed
// image), so it is computed once.
func (j *job) squash(ctx context.Context, target *stageRun, cfg *Config) ([]byte, digest.Digest, error) {
	if j.b.Squasher == nil {
		return nil, "", errdefs.NotImplementedf("--squash is not supported by this builder")
	}
	v := j.prog.Start("squashing layers")
	fail := func(err error) ([]byte, digest.Digest, error) {
		v.Finish(err)
		return nil, "", err
	}
	base := target.start
	wctx := ctx
	j.mu.Lock()
	if j.leaseCtx != nil {
		wctx = &leaseContext{Context: ctx, lease: j.leaseCtx}
	}
	j.mu.Unlock()
	uid, err := j.b.Writer.WriteImage(wctx, NewImage{Config: configBytes(cfg), ChainID: target.state.chainID, Parent: target.baseID})
	if err != nil {
		return fail(err)
	}
	v.Log("unsquashed image " + uid.String())

	key := cache.Key(uid, "squash", base.chainID.String())
	var o cache.Outcome
	found := false
	if !j.opts.NoCache && j.b.Cache != nil {
		rec, ok, err := j.b.Cache.Get(ctx, key)
		if err != nil {
			j.log.Warn("build cache lookup failed", "err", err)
		}
		if ok && rec.Outcome.DiffID != "" {
			o, found = rec.Outcome, true
		}
	}
	if !found {
		lctx, err := j.withLease(ctx)
		if err != nil {
			return fail(err)
		}
		l, err := j.b.Squasher.Squash(lctx, base.chainID, target.state.chainID, CommitOptions{SourceDateEpoch: j.opts.SourceDateEpoch})
		if err != nil {
			return fail(fmt.Errorf("squashing layers: %w", err))
		}
		o = cache.Outcome{DiffID: l.DiffID, ChainID: l.ChainID}
		if j.b.Cache != nil {
			e := cache.Entry{Key: key, Parent: uid, Instr: "squash", Record: cache.Record{Outcome: o, Created: j.now()}}
			if err := j.b.Cache.Put(context.WithoutCancel(ctx), []cache.Entry{e}); err != nil {
				return fail(fmt.Errorf("writing build cache records: %w", err))
			}
		}
	}
	parent := target.baseID
	if parent == "" && target.base >= 0 {
		parent = configID(base.cfg) // a stage: the ID its config would have
	}
	sq := squashedConfig(cfg, base.cfg, o.DiffID, uid, parent)
	if found {
		v.Cached()
	} else {
		v.Finish(nil)
	}
	return configBytes(sq), o.ChainID, nil
}

// squashedConfig is cfg with the layers above base replaced by diffID and
// the history rewritten as docker's SquashImage does.
func squashedConfig(cfg, base *Config, diffID, unsquashed, parent digest.Digest) *Config {
	sq := cloneConfig(cfg)
	nd := min(len(base.RootFS.DiffIDs), len(cfg.RootFS.DiffIDs))
	sq.RootFS.DiffIDs = append(sq.RootFS.DiffIDs[:nd], diffID)
	for i := len(base.History); i < len(sq.History); i++ {
		sq.History[i].EmptyLayer = true
	}
	comment := "create new from " + unsquashed.String()
	if parent != "" {
		comment = fmt.Sprintf("merge %s to %s", unsquashed, parent)
	}
	sq.History = append(sq.History, ocispec.History{Created: cfg.Created, Comment: comment})
	return sq
}
