package builder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/builder/argscope"
	"github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/builder/configstep"
	"github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// state is the result of a step: the image config (with history and
// diffIDs) and the top layer.
type state struct {
	cfg     *Config
	chainID digest.Digest
	id      digest.Digest // digest of cfg: the parent part of the next cache key
}

// newState is a state identified by its config's digest (base images,
// scratch).
func newState(cfg *Config, chainID digest.Digest) *state {
	return &state{cfg: cfg, chainID: chainID, id: configID(cfg)}
}

// advance applies a step's outcome to the stage's config (in place: the
// stage owns its copy) and makes the new state. Its ID is derived from the
// step's cache key and the resulting layers, so it changes when the
// instruction, its inputs, anything before it, or the produced files do.
func (c *stageCtx) advance(st *step, key digest.Digest, o cache.Outcome) {
	cfg := c.cur.cfg
	if st.meta != nil {
		st.meta(cfg)
	}
	if o.DiffID != "" {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, o.DiffID)
	}
	if o.History != nil {
		cfg.History = append(cfg.History, *o.History)
	}
	c.cur = &state{cfg: cfg, chainID: o.ChainID, id: cache.Key(key, "result", o.ChainID.String(), o.DiffID.String())}
}

// lastCreated is the image's created time: that of its last history entry,
// so that a fully cached rebuild gives the same image ID.
func (s *state) lastCreated(cfg *Config) *time.Time {
	for i := len(cfg.History) - 1; i >= 0; i-- {
		if cfg.History[i].Created != nil {
			t := *cfg.History[i].Created
			return &t
		}
	}
	return cfg.Created
}

// defaultPath is the PATH docker gives a stage whose image has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stageCtx is the mutable context of a stage while its steps run.
type stageCtx struct {
	s      *stageRun
	cur    *state
	args   *argscope.Scope // the stage's ARGs
	cmdSet bool            // CMD given in this stage (ENTRYPOINT keeps it)
	missed bool            // a step missed the cache: later steps miss
	step   int
	total  int
}

// lookup resolves variables for expansion: ENV of the image first, then the
// stage's ARGs.
func (c *stageCtx) lookup(name string) (string, bool) {
	return c.args.Lookup(c.cur.cfg.Config.Env)(name)
}

func (s *stageRun) label(step, total int, text string) string {
	text = oneLine(text)
	if s.name == "" {
		return fmt.Sprintf("[%d/%d] %s", step, total, text)
	}
	return fmt.Sprintf("[%s %d/%d] %s", s.name, step, total, text)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}

// build runs the steps of the stage.
func (s *stageRun) build(ctx context.Context) error {
	j := s.j
	instrs := s.st.Instructions
	c := &stageCtx{s: s, args: j.args.Stage()}

	base, triggers, err := s.resolveBase(ctx)
	if err != nil {
		return err
	}
	s.start = base
	// The stage changes its config in place: work on a copy of the base
	// (another stage may use the same one).
	c.cur = &state{cfg: cloneConfig(base.cfg), chainID: base.chainID, id: base.id}
	// Like docker, a stage always has a PATH.
	if _, ok := argscope.EnvValue(c.cur.cfg.Config.Env, "PATH"); !ok {
		c.cur.cfg.Config.Env = append(c.cur.cfg.Config.Env, "PATH="+defaultPath)
		c.cur.id = cache.Key(c.cur.id, "default PATH")
	}
	if len(triggers) > 0 {
		instrs = append(triggers, instrs...)
	}
	c.total = len(instrs) + 1
	c.step = 1
	for _, ins := range instrs {
		c.step++
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.dispatch(ctx, ins); err != nil {
			return err
		}
	}
	s.state = c.cur
	return nil
}

// resolveBase returns the state FROM names and the ONBUILD triggers of a
// base image, parsed as instructions.
func (s *stageRun) resolveBase(ctx context.Context) (*state, []dockerfile.Instruction, error) {
	j := s.j
	total := len(s.st.Instructions) + 1
	if s.base >= 0 {
		b := j.stages[s.base].state
		v := j.prog.Start(s.label(1, total, "FROM "+s.from.Image))
		v.Finish(nil)
		return b, nil, nil
	}
	if p := s.from.Platform; p != "" {
		host := dockerfile.FormatPlatform(dockerfile.HostPlatform())
		if p != host && !strings.HasPrefix(host, p+"/") && p != dockerfile.HostPlatform().OS {
			return nil, nil, errdefs.InvalidArgumentf("%s:%d: FROM --platform=%s: only the host platform (%s) can be built", j.file.Name, s.from.Loc().Start, p, host)
		}
	}
	if strings.EqualFold(s.from.Image, "scratch") {
		p := dockerfile.HostPlatform()
		cfg := &Config{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant}
		cfg.RootFS.Type = "layers"
		cfg.Config.Env = []string{"PATH=" + defaultPath}
		return newState(cfg, ""), nil, nil
	}
	v := j.prog.Start(s.label(1, total, "FROM "+s.from.Image))
	img, err := j.resolveImage(ctx, s.from.Image, j.opts.Pull)
	if err != nil {
		v.Finish(err)
		return nil, nil, fmt.Errorf("%s:%d: FROM %s: %w", j.file.Name, s.from.Loc().Start, s.from.Image, err)
	}
	cfg, err := parseConfig(img.Config)
	if err != nil {
		v.Finish(err)
		return nil, nil, fmt.Errorf("base image %s: %w", s.from.Image, err)
	}
	s.baseID = img.ID
	v.Finish(nil)
	var triggers []dockerfile.Instruction
	if len(cfg.Config.OnBuild) > 0 {
		text := strings.Join(cfg.Config.OnBuild, "\n") + "\n"
		f, err := dockerfile.Parse(strings.NewReader("FROM scratch\n"+text), "ONBUILD of "+s.from.Image)
		if err != nil {
			return nil, nil, err
		}
		triggers = f.Stages[0].Instructions
		cfg.Config.OnBuild = nil
	}
	return newState(cfg, img.ChainID), triggers, nil
}

// step describes one instruction ready to run.
type step struct {
	instr  string   // the instruction as recorded in history (cache key part)
	inputs []string // other cache key inputs
	kind   string   // "COPY", "ADD", "RUN", ... for the miss reason
	// meta applies a config-only change to cfg.
	meta func(cfg *Config)
	// fs changes files in a prepared snapshot root; nil for metadata steps.
	fs func(ctx context.Context, snap Snapshot, v *progress.Vertex) error
	// committed, when set, is told the layer fs's changes became.
	committed func(ctx context.Context, l Layer)
	// history is the created_by text; the entry is empty_layer when fs is
	// nil (a metadata step).
	history   string
	noHistory bool // ONBUILD writes no history entry
	// contentInHistory: the history text names the content of a COPY/ADD
	// (docker's file:/dir:/multi: hashes), so --cache-from images may
	// supply the step.
	contentInHistory bool
}

func (c *stageCtx) dispatch(ctx context.Context, ins dockerfile.Instruction) error {
	j := c.s.j
	display := ins.Original()
	v := j.prog.Start(c.s.label(c.step, c.total, display))
	st, err := c.prepare(ctx, ins)
	if err != nil {
		v.Finish(err)
		return err
	}
	key := cache.Key(c.cur.id, st.instr, st.inputs...)
	parent := c.cur.id
	record := func(o cache.Outcome) {
		j.addPending(cache.Entry{Key: key, Parent: parent, Instr: st.instr, Record: cache.Record{Outcome: o, Created: j.now()}})
	}
	if !c.missed && !j.opts.NoCache && j.b.Cache != nil {
		rec, ok, err := j.b.Cache.Get(ctx, key)
		if err != nil {
			j.log.Warn("build cache lookup failed", "err", err)
		}
		if ok {
			c.advance(st, key, rec.Outcome)
			c.applyScope(ins)
			v.Cached()
			return nil
		}
	}
	// --cache-from matches by history and diffIDs (content), so it may
	// still match after a miss produced identical layers.
	if !j.opts.NoCache {
		if o, ok := c.fromCacheImages(st); ok {
			record(o)
			c.advance(st, key, o)
			c.applyScope(ins)
			v.Cached()
			return nil
		}
	}
	if !c.missed && !j.opts.NoCache && j.b.Cache != nil {
		c.explainMiss(ctx, v, st)
	}
	c.missed = true
	start := j.now()
	o, err := c.execute(ctx, st, v)
	if err != nil {
		v.Finish(err)
		return err
	}
	j.log.Debug("step done", "instr", st.instr, "took", j.now().Sub(start))
	record(o)
	c.advance(st, key, o)
	c.applyScope(ins)
	v.Finish(nil)
	return nil
}

// applyScope records stage-level facts that are not in the config.
func (c *stageCtx) applyScope(ins dockerfile.Instruction) {
	if _, ok := ins.(*dockerfile.Cmd); ok {
		c.cmdSet = true
	}
}

func (c *stageCtx) explainMiss(ctx context.Context, v *progress.Vertex, st *step) {
	parentSeen, instrSeen, err := c.s.j.b.Cache.Probe(ctx, c.cur.id, st.instr)
	if err != nil {
		return
	}
	switch {
	case instrSeen && (st.kind == "COPY" || st.kind == "ADD"):
		v.Note("cache miss: " + st.kind + " sources changed")
	case instrSeen:
		v.Note("cache miss: inputs changed")
	case parentSeen:
		v.Note("cache miss: instruction changed")
	default:
		// Nothing was built on this state before: a first build, or a
		// base (FROM, an earlier step) that changed.
		v.Note("cache miss: nothing cached on this parent yet")
	}
}

// execute runs a step and returns its outcome.
func (c *stageCtx) execute(ctx context.Context, st *step, v *progress.Vertex) (cache.Outcome, error) {
	j := c.s.j
	created := j.created()
	entry := func(empty bool) *ocispec.History {
		if st.noHistory {
			return nil
		}
		return &ocispec.History{Created: created, CreatedBy: st.history, Comment: historyComment, EmptyLayer: empty}
	}
	if st.fs == nil {
		return cache.Outcome{History: entry(true), ChainID: c.cur.chainID}, nil
	}
	ctx, err := j.withLease(ctx)
	if err != nil {
		return cache.Outcome{}, err
	}
	snap, err := j.b.Snapshots.Prepare(ctx, c.cur.chainID)
	if err != nil {
		return cache.Outcome{}, fmt.Errorf("preparing rootfs: %w", err)
	}
	defer snap.Release(context.WithoutCancel(ctx))
	t0 := j.now()
	if err := st.fs(ctx, snap, v); err != nil {
		return cache.Outcome{}, err
	}
	t1 := j.now()
	layer, empty, err := snap.Commit(ctx, CommitOptions{SourceDateEpoch: j.opts.SourceDateEpoch})
	j.log.Debug("step timings", "instr", st.instr, "prepare+run", t1.Sub(t0), "commit", j.now().Sub(t1))
	if err != nil {
		return cache.Outcome{}, fmt.Errorf("committing layer: %w", err)
	}
	if empty {
		return cache.Outcome{History: entry(true), ChainID: c.cur.chainID}, nil
	}
	if st.committed != nil {
		st.committed(ctx, layer)
	}
	return cache.Outcome{History: entry(false), DiffID: layer.DiffID, ChainID: layer.ChainID}, nil
}

// prepare expands ins and describes it as a step.
func (c *stageCtx) prepare(ctx context.Context, ins dockerfile.Instruction) (*step, error) {
	j := c.s.j
	if a, ok := ins.(*dockerfile.Arg); ok {
		return c.prepareArg(a)
	}
	x, _, err := dockerfile.Expand(ins, c.lookup)
	if err != nil {
		return nil, err
	}
	cs, ok, err := configstep.For(x, c.cur.cfg.Config.Shell, c.cmdSet)
	if err != nil {
		return nil, err
	}
	if ok {
		st := &step{instr: cs.Text, history: cs.Text, inputs: cs.Inputs, meta: cs.Apply}
		if cs.NoHistory {
			st.history, st.noHistory = "", true
		}
		return st, nil
	}
	switch x := x.(type) {
	case *dockerfile.Workdir:
		return c.prepareWorkdir(x)
	case *dockerfile.Run:
		return c.prepareRun(ctx, x)
	case *dockerfile.Copy:
		return c.prepareCopy(ctx, copyArgs{kw: "COPY", sources: x.Sources, inline: x.Inline, dest: x.Dest, from: x.From, chown: x.Chown, chmod: x.Chmod, parents: x.Parents, exclude: x.Exclude, loc: x.Loc().Start})
	case *dockerfile.Add:
		return c.prepareCopy(ctx, copyArgs{kw: "ADD", sources: x.Sources, inline: x.Inline, dest: x.Dest, chown: x.Chown, chmod: x.Chmod, checksum: x.Checksum, unpack: x.Unpack, exclude: x.Exclude, loc: x.Loc().Start})
	case *dockerfile.From:
		return nil, errdefs.InvalidArgumentf("%s:%d: FROM is not allowed here", j.file.Name, x.Loc().Start)
	}
	return nil, errdefs.NotImplementedf("%s:%d: instruction %s is not supported", j.file.Name, ins.Loc().Start, ins.Keyword())
}

// withShell returns the argv of a CMD/ENTRYPOINT/RUN in the current
// config's SHELL (configstep.WithShell).
func (c *stageCtx) withShell(cl dockerfile.CommandLine) []string {
	return configstep.WithShell(cl, c.cur.cfg.Config.Shell)
}

// prepareArg declares ARGs in the stage scope. docker records them in the
// history ("ARG a=b c") as an empty layer.
func (c *stageCtx) prepareArg(a *dockerfile.Arg) (*step, error) {
	x, _, err := dockerfile.Expand(a, c.lookup)
	if err != nil {
		return nil, err
	}
	h := c.args.Declare(x.(*dockerfile.Arg))
	return &step{instr: h, history: h}, nil
}

// fromCacheImages looks for the step in the history of the --cache-from
// images (cache.FromImages). COPY and ADD match through the content hashes
// their history records (docker's classic builder does the same), so a
// saved/loaded or pulled image serves as cache without this root's cache
// records; an ADD of a URL without --checksum never matches.
func (c *stageCtx) fromCacheImages(st *step) (cache.Outcome, bool) {
	j := c.s.j
	if len(j.cacheFrom) == 0 || st.noHistory || ((st.kind == "COPY" || st.kind == "ADD") && !st.contentInHistory) {
		return cache.Outcome{}, false
	}
	return cache.FromImages(c.cur.cfg, c.cur.chainID, j.cacheFrom, st.history, st.fs != nil)
}
