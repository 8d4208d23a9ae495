package build

import (
	"context"
	"fmt"
	"strings"
	"time"

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

// outcome is what a step adds to the state: its history entry (nil for
// ONBUILD), its layer (DiffID "" when none) and the resulting top layer.
// Cache records store outcomes, not whole configs, so a build of n steps
// costs O(n), not O(n^2).
type outcome struct {
	History *ocispec.History `json:"history,omitempty"`
	DiffID  digest.Digest    `json:"diffID,omitempty"`
	ChainID digest.Digest    `json:"chainID,omitempty"`
}

// advance applies a step's outcome to the stage's config (in place: the
// stage owns its copy) and makes the new state. Its ID is derived from the
// step's cache key and the resulting layers, so it changes when the
// instruction, its inputs, anything before it, or the produced files do.
func (c *stageCtx) advance(st *step, key digest.Digest, o outcome) {
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
	c.cur = &state{cfg: cfg, chainID: o.ChainID, id: cacheKey(key, "result", o.ChainID.String(), o.DiffID.String())}
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
	args   map[string]string // ARGs declared in the stage, with values
	argSet []string          // declared names in order (for RUN's "|N a=b")
	cmdSet bool              // CMD given in this stage (ENTRYPOINT keeps it)
	missed bool              // a step missed the cache: later steps miss
	step   int
	total  int
}

// lookup resolves variables for expansion: ENV of the image first, then the
// stage's ARGs.
func (c *stageCtx) lookup(name string) (string, bool) {
	if v, ok := getEnv(c.cur.cfg.Config.Env, name); ok {
		return v, true
	}
	v, ok := c.args[name]
	return v, ok
}

// runEnv is the environment of RUN steps: the image's Env plus the ARGs in
// scope that no ENV shadows, plus proxy build-args.
func (c *stageCtx) runEnv() []string {
	env := append([]string(nil), c.cur.cfg.Config.Env...)
	for _, k := range c.argSet {
		if _, ok := getEnv(env, k); ok {
			continue
		}
		if v, ok := c.args[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range c.s.j.opts.BuildArgs {
		if dockerfile.IsProxyArg(k) {
			if _, ok := getEnv(env, k); !ok {
				env = append(env, k+"="+v)
			}
		}
	}

	return env
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
	c := &stageCtx{s: s, args: map[string]string{}}

	base, triggers, err := s.resolveBase(ctx)
	if err != nil {
		return err
	}
	s.start = base
	// The stage changes its config in place: work on a copy of the base
	// (another stage may use the same one).
	c.cur = &state{cfg: cloneConfig(base.cfg), chainID: base.chainID, id: base.id}
	// Like docker, a stage always has a PATH.
	if _, ok := getEnv(c.cur.cfg.Config.Env, "PATH"); !ok {
		c.cur.cfg.Config.Env = append(c.cur.cfg.Config.Env, "PATH="+defaultPath)
		c.cur.id = cacheKey(c.cur.id, "default PATH")
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
	_ = j
	return nil
}

// resolveBase returns the state FROM names and the ONBUILD triggers of a
// base image, parsed as instructions.
func (s *stageRun) resolveBase(ctx context.Context) (*state, []dockerfile.Instruction, error) {
	j := s.j
	total := len(s.st.Instructions) + 1
	if s.base >= 0 {
		b := j.stages[s.base].state
		v := j.prog.start(s.label(1, total, "FROM "+s.from.Image))
		v.finish(nil)
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
	v := j.prog.start(s.label(1, total, "FROM "+s.from.Image))
	img, err := j.resolveImage(ctx, s.from.Image, j.opts.Pull)
	if err != nil {
		v.finish(err)
		return nil, nil, fmt.Errorf("%s:%d: FROM %s: %w", j.file.Name, s.from.Loc().Start, s.from.Image, err)
	}
	cfg, err := parseConfig(img.Config)
	if err != nil {
		v.finish(err)
		return nil, nil, fmt.Errorf("base image %s: %w", s.from.Image, err)
	}
	s.baseID = img.ID
	v.finish(nil)
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
	fs func(ctx context.Context, snap Snapshot, v *vertex) error
	// history is the created_by text; emptyLayer for metadata steps.
	history    string
	emptyLayer bool
	noHistory  bool // ONBUILD writes no history entry
	// contentInHistory: the history text names the content of a COPY/ADD
	// (docker's file:/dir:/multi: hashes), so --cache-from images may
	// supply the step.
	contentInHistory bool
}

func (c *stageCtx) dispatch(ctx context.Context, ins dockerfile.Instruction) error {
	j := c.s.j
	display := ins.Original()
	v := j.prog.start(c.s.label(c.step, c.total, display))
	st, err := c.prepare(ctx, ins)
	if err != nil {
		v.finish(err)
		return err
	}
	key := cacheKey(c.cur.id, st.instr, st.inputs...)
	parent := c.cur.id
	record := func(o outcome) {
		j.addPending(CacheEntry{Key: key, Parent: parent, Instr: st.instr, Record: CacheRecord{Outcome: o, Created: j.now()}})
	}
	if !c.missed && !j.opts.NoCache && j.b.Cache != nil {
		rec, ok, err := j.b.Cache.Get(ctx, key)
		if err != nil {
			j.log.Warn("build cache lookup failed", "err", err)
		}
		if ok {
			c.advance(st, key, rec.Outcome)
			c.applyScope(ins)
			v.markCached()
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
			v.markCached()
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
		v.finish(err)
		return err
	}
	j.log.Debug("step done", "instr", st.instr, "took", j.now().Sub(start))
	record(o)
	c.advance(st, key, o)
	c.applyScope(ins)
	v.finish(nil)
	return nil
}

// applyScope records stage-level facts that are not in the config.
func (c *stageCtx) applyScope(ins dockerfile.Instruction) {
	if _, ok := ins.(*dockerfile.Cmd); ok {
		c.cmdSet = true
	}
}

func (c *stageCtx) explainMiss(ctx context.Context, v *vertex, st *step) {
	parentSeen, instrSeen, err := c.s.j.b.Cache.Probe(ctx, c.cur.id, st.instr)
	if err != nil {
		return
	}
	switch {
	case instrSeen && (st.kind == "COPY" || st.kind == "ADD"):
		v.note("cache miss: " + st.kind + " sources changed")
	case instrSeen:
		v.note("cache miss: inputs changed")
	case parentSeen:
		v.note("cache miss: instruction changed")
	default:
		v.note("cache miss: parent changed")
	}
}

// execute runs a step and returns its outcome.
func (c *stageCtx) execute(ctx context.Context, st *step, v *vertex) (outcome, error) {
	j := c.s.j
	created := j.created()
	entry := func(empty bool) *ocispec.History {
		if st.noHistory {
			return nil
		}
		return &ocispec.History{Created: created, CreatedBy: st.history, Comment: historyComment, EmptyLayer: empty}
	}
	if st.fs == nil {
		return outcome{History: entry(true), ChainID: c.cur.chainID}, nil
	}
	ctx, err := j.withLease(ctx)
	if err != nil {
		return outcome{}, err
	}
	snap, err := j.b.Snapshots.Prepare(ctx, c.cur.chainID)
	if err != nil {
		return outcome{}, fmt.Errorf("preparing rootfs: %w", err)
	}
	defer snap.Release(context.WithoutCancel(ctx))
	t0 := j.now()
	if err := st.fs(ctx, snap, v); err != nil {
		return outcome{}, err
	}
	t1 := j.now()
	layer, empty, err := snap.Commit(ctx, CommitOptions{SourceDateEpoch: j.opts.SourceDateEpoch})
	j.log.Debug("step timings", "instr", st.instr, "prepare+run", t1.Sub(t0), "commit", j.now().Sub(t1))
	if err != nil {
		return outcome{}, fmt.Errorf("committing layer: %w", err)
	}
	if empty {
		return outcome{History: entry(true), ChainID: c.cur.chainID}, nil
	}
	return outcome{History: entry(false), DiffID: layer.DiffID, ChainID: layer.ChainID}, nil
}

// prepare expands ins and describes it as a step.
func (c *stageCtx) prepare(ctx context.Context, ins dockerfile.Instruction) (*step, error) {
	j := c.s.j
	if a, ok := ins.(*dockerfile.Arg); ok {
		return c.prepareArg(a)
	}
	x, used, err := dockerfile.Expand(ins, c.lookup)
	if err != nil {
		return nil, err
	}
	_ = used
	switch x := x.(type) {
	case *dockerfile.Env:
		var b strings.Builder
		b.WriteString("ENV")
		for _, kv := range x.Vars {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value)
		}
		vars := x.Vars
		return &step{instr: b.String(), history: b.String(), kind: "ENV", meta: func(cfg *Config) {
			for _, kv := range vars {
				cfg.Config.Env = setEnv(cfg.Config.Env, kv.Key, kv.Value)
			}
		}}, nil
	case *dockerfile.Label:
		var b strings.Builder
		b.WriteString("LABEL")
		for _, kv := range x.Labels {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value)
		}
		labels := x.Labels
		return &step{instr: b.String(), history: b.String(), kind: "LABEL", meta: func(cfg *Config) {
			if cfg.Config.Labels == nil {
				cfg.Config.Labels = map[string]string{}
			}
			for _, kv := range labels {
				cfg.Config.Labels[kv.Key] = kv.Value
			}
		}}, nil
	case *dockerfile.Maintainer:
		h := "MAINTAINER " + x.Name
		return &step{instr: h, history: h, meta: func(cfg *Config) { cfg.Author = x.Name }}, nil
	case *dockerfile.Cmd:
		args := c.withShell(x.CommandLine)
		h := fmt.Sprintf("CMD %q", args)
		return &step{instr: h, history: h, meta: func(cfg *Config) {
			cfg.Config.Cmd = args
			cfg.Config.ArgsEscaped = true
		}}, nil
	case *dockerfile.Entrypoint:
		args := c.withShell(x.CommandLine)
		h := fmt.Sprintf("ENTRYPOINT %q", args)
		cmdSet := c.cmdSet
		return &step{instr: h, history: h, inputs: []string{fmt.Sprint(cmdSet)}, meta: func(cfg *Config) {
			cfg.Config.Entrypoint = args
			if !cmdSet {
				cfg.Config.Cmd = nil
			}
			cfg.Config.ArgsEscaped = true
		}}, nil
	case *dockerfile.Expose:
		ports, err := expandPorts(x.Ports)
		if err != nil {
			return nil, err
		}
		h := fmt.Sprintf("EXPOSE %v", ports)
		return &step{instr: h, history: h, meta: func(cfg *Config) {
			if cfg.Config.ExposedPorts == nil {
				cfg.Config.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.Config.ExposedPorts[p] = struct{}{}
			}
		}}, nil
	case *dockerfile.Volume:
		h := fmt.Sprintf("VOLUME %v", x.Paths)
		return &step{instr: h, history: h, meta: func(cfg *Config) {
			if cfg.Config.Volumes == nil {
				cfg.Config.Volumes = map[string]struct{}{}
			}
			for _, p := range x.Paths {
				cfg.Config.Volumes[p] = struct{}{}
			}
		}}, nil
	case *dockerfile.User:
		h := "USER " + x.User
		return &step{instr: h, history: h, meta: func(cfg *Config) { cfg.Config.User = x.User }}, nil
	case *dockerfile.StopSignal:
		h := "STOPSIGNAL " + x.Signal
		return &step{instr: h, history: h, meta: func(cfg *Config) { cfg.Config.StopSignal = x.Signal }}, nil
	case *dockerfile.Shell:
		h := fmt.Sprintf("SHELL %v", x.Shell)
		return &step{instr: h, history: h, meta: func(cfg *Config) { cfg.Config.Shell = x.Shell }}, nil
	case *dockerfile.Healthcheck:
		hc := &HealthConfig{Test: x.Test, Interval: x.Interval, Timeout: x.Timeout, StartPeriod: x.StartPeriod, StartInterval: x.StartInterval, Retries: x.Retries}
		h := fmt.Sprintf("HEALTHCHECK %+v", *hc)
		return &step{instr: h, history: h, meta: func(cfg *Config) { cfg.Config.Healthcheck = hc }}, nil
	case *dockerfile.Onbuild:
		expr := x.Expression
		return &step{instr: "ONBUILD " + expr, noHistory: true, meta: func(cfg *Config) {
			cfg.Config.OnBuild = append(cfg.Config.OnBuild, expr)
		}}, nil
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

// withShell returns the argv of a CMD/ENTRYPOINT/RUN: exec form as is,
// shell form prefixed by the image's SHELL (default /bin/sh -c).
func (c *stageCtx) withShell(cl dockerfile.CommandLine) []string {
	if cl.Exec {
		if cl.Args == nil {
			return []string{}
		}
		return append([]string(nil), cl.Args...)
	}
	sh := c.cur.cfg.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), sh...), strings.Join(cl.Args, " "))
}

// prepareArg declares ARGs in the stage scope. docker records them in the
// history ("ARG a=b c") as an empty layer.
func (c *stageCtx) prepareArg(a *dockerfile.Arg) (*step, error) {
	j := c.s.j
	x, _, err := dockerfile.Expand(a, c.lookup)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, d := range x.(*dockerfile.Arg).Args {
		j.markArgUsed(d.Name)
		val, has := "", false
		if v, ok := j.opts.BuildArgs[d.Name]; ok {
			val, has = v, true
		} else if d.Default != nil {
			val, has = *d.Default, true
		} else if v, ok := j.globalArgs[d.Name]; ok {
			val, has = v, true
		}
		if !containsStr(c.argSet, d.Name) {
			c.argSet = append(c.argSet, d.Name)
		}
		if has {
			c.args[d.Name] = val
			parts = append(parts, d.Name+"="+val)
		} else {
			delete(c.args, d.Name)
			parts = append(parts, d.Name)
		}
	}
	h := "ARG " + strings.Join(parts, " ")
	return &step{instr: h, history: h}, nil
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// expandPorts normalises EXPOSE words: "80" -> "80/tcp", ranges expanded.
func expandPorts(words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		port, proto, ok := strings.Cut(w, "/")
		if !ok || proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		lo, hi, isRange := strings.Cut(port, "-")
		if !isRange {
			out = append(out, lo+"/"+proto)
			continue
		}
		var a, b int
		if _, err := fmt.Sscanf(lo, "%d", &a); err != nil {
			return nil, errdefs.InvalidArgumentf("invalid port range %s", w)
		}
		if _, err := fmt.Sscanf(hi, "%d", &b); err != nil || b < a {
			return nil, errdefs.InvalidArgumentf("invalid port range %s", w)
		}
		for p := a; p <= b; p++ {
			out = append(out, fmt.Sprintf("%d/%s", p, proto))
		}
	}
	return out, nil
}

// runCommandString is the text BuildKit records for RUN: the build args in
// scope as "|N k=v ..." before the argv.
func (c *stageCtx) runCommandString(args []string) string {
	var parts []string
	for _, k := range c.argSet {
		if v, ok := c.args[k]; ok {
			parts = append(parts, k+"="+v)
		} else {
			parts = append(parts, k+"=")
		}
	}
	if len(parts) > 0 {
		parts = append([]string{fmt.Sprintf("|%d", len(parts))}, parts...)
	}
	return strings.Join(append(parts, args...), " ")
}

// fromCacheImages looks for the step in the history of the --cache-from
// images: an image whose history and layers start with the current state's
// and whose next history entry is this step gives the step's result (its
// layer and history entry). COPY and ADD match through the content hashes
// their history records (docker's classic builder does the same), so a
// saved/loaded or pulled image serves as cache without this root's cache
// records; an ADD of a URL without --checksum never matches.
func (c *stageCtx) fromCacheImages(st *step) (outcome, bool) {
	j := c.s.j
	if len(j.cacheFrom) == 0 || st.noHistory || ((st.kind == "COPY" || st.kind == "ADD") && !st.contentInHistory) {
		return outcome{}, false
	}
	cur := c.cur.cfg
	h, d := len(cur.History), len(cur.RootFS.DiffIDs)
	for _, ci := range j.cacheFrom {
		if len(ci.History) <= h || len(ci.RootFS.DiffIDs) < d {
			continue
		}
		same := true
		for i := range cur.History {
			a, b := cur.History[i], ci.History[i]
			if a.CreatedBy != b.CreatedBy || a.EmptyLayer != b.EmptyLayer {
				same = false
				break
			}
		}
		for i := 0; same && i < d; i++ {
			same = cur.RootFS.DiffIDs[i] == ci.RootFS.DiffIDs[i]
		}
		next := ci.History[h]
		if !same || next.CreatedBy != st.history {
			continue
		}
		o := outcome{History: &next, ChainID: c.cur.chainID}
		if !next.EmptyLayer {
			if len(ci.RootFS.DiffIDs) <= d || st.fs == nil {
				continue
			}
			o.DiffID = ci.RootFS.DiffIDs[d]
			o.ChainID = chainID(c.cur.chainID, o.DiffID)
		}
		return o, true
	}
	return outcome{}, false
}

// chainID is the chainID of diffID on top of parent (OCI image spec).
func chainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}
