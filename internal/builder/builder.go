package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/builder/argscope"
	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/builder/output"
	"github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/rootless"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// Builder builds Dockerfiles. Its fields are the roles it uses; all but
// Runner, Unpacker and Cache are required (a build without RUN steps needs
// no Runner; a nil Cache disables caching).
type Builder struct {
	Images    ImageSource
	Puller    Puller // optional: pulls images that are not local
	Snapshots Snapshotter
	Runner    Runner
	Writer    ImageWriter
	Cache     cache.Store
	Unpacker  Unpacker
	// Squasher merges the final stage's layers (--squash); optional.
	Squasher Squasher
	// Dir is the builder's own directory (<root>/build): cache mounts and
	// the temporary area.
	Dir    string
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Lease, when set, is held for the whole build so that the images it
	// starts from, the cached layers it reuses and the layers it creates
	// are not removed by another process before the image uses them.
	Lease func(ctx context.Context) (context.Context, func(), error)
	// Tar writes the tree at dir as a tar stream (--output); archive.Tar.
	Tar func(ctx context.Context, w io.Writer, dir string, epoch *time.Time) error
}

// Options are the inputs of one build (the flags of `docker build`).
type Options struct {
	Dockerfile     []byte
	DockerfileName string // for messages, default "Dockerfile"
	// Context is the build context (nil: the build may not use one) and
	// StatCache its stat cache (optional; makes re-hashing incremental).
	Context   *buildcontext.Context
	StatCache *buildcontext.StatCache
	Tags      []string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	Target    string
	NoCache   bool
	// Squash merges the layers the final stage adds to its base into one
	// (docker build --squash); the unsquashed image is kept, untagged.
	Squash bool
	// Pull always pulls the images FROM names (needs Builder.Puller).
	Pull       bool
	CacheFrom  []string
	Labels     map[string]string
	Network    string // RUN network mode: "default", "none" or "host"
	ExtraHosts []string
	Resources  Resources
	// Secrets maps --secret ids to files.
	Secrets map[string]string
	// SecretSource, when set, gives the secrets Secrets lacks (a remote
	// client's, asked for when a step mounts one: ok false if it has none).
	SecretSource func(ctx context.Context, id string) (data []byte, ok bool, err error)
	// SourceDateEpoch, when set, is used for every timestamp of the image.
	SourceDateEpoch *time.Time
	// Output, when set, exports the result's files instead of storing an
	// image (--output type=local,dest=DIR or type=tar,dest=FILE|-).
	Output *output.Output
	// Progress output and its mode (progress.Plain, progress.TTY, progress.Quiet).
	Progress     io.Writer
	ProgressMode string
	// ProgressObserver, when set, also receives every progress event.
	ProgressObserver progress.Observer
}

// Result is a finished build.
type Result struct {
	ID     digest.Digest // the image ID
	Config []byte
	// Warnings printed during the build (also written to Progress).
	Warnings []string
}

// Build runs one build to the end and stores the image (tagged last).
func (b *Builder) Build(ctx context.Context, opts Options) (*Result, error) {
	name := opts.DockerfileName
	if name == "" {
		name = "Dockerfile"
	}
	f, err := dockerfile.Parse(bytes.NewReader(opts.Dockerfile), name)
	if err != nil {
		return nil, err
	}

	now := b.Now
	if now == nil {
		now = time.Now
	}
	mode := opts.ProgressMode
	if mode == "" {
		mode = progress.Plain
	}
	j := &job{
		b:    b,
		opts: opts,
		file: f,
		now:  now,
		prog: progress.New(opts.Progress, mode, now),
		log:  b.Logger,
	}
	if j.log == nil {
		j.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	j.prog.Observe(opts.ProgressObserver)
	defer j.prog.Close()
	defer j.releaseLease()
	for _, w := range f.Warnings {
		j.warn(fmt.Sprintf("[Warning] %s:%d: %s", name, w.Line, w.Msg))
	}
	// This process's temporary area goes when empty (snapshots and mounts
	// are released by the steps themselves).
	defer os.Remove(filepath.Join(b.Dir, "tmp", strconv.Itoa(os.Getpid())))
	// The lease is held from the start: the base images (Resolve), cache
	// hits (Cache.Get) and new layers the build relies on are added to it
	// as it finds or makes them, so a concurrent rmi or prune never removes
	// them mid-build.
	ctx, err = j.withLease(ctx)
	if err != nil {
		return nil, err
	}
	res, err := j.run(ctx)
	if err != nil {
		return nil, err
	}
	res.Warnings = j.warnings
	return res, nil
}

// job is the state of one build.
type job struct {
	b    *Builder
	opts Options
	file *dockerfile.File
	now  func() time.Time
	prog *progress.Printer
	log  *slog.Logger

	args      *argscope.Build
	stages    []*stageRun
	cacheFrom []*Config // --cache-from images' configs (their history is a cache source)
	security  spec.SecurityOpts

	mu       sync.Mutex
	pulls    map[string]*pullCall
	leaseCtx context.Context // set once a step needs new layers
	leaseEnd func()
	warnings []string
	pending  []cache.Entry
}

// withLease returns ctx carrying the build's lease (taken once, at the
// start of Build).
func (j *job) withLease(ctx context.Context) (context.Context, error) {
	if j.b.Lease == nil {
		return ctx, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.leaseCtx == nil {
		lctx, done, err := j.b.Lease(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		j.leaseCtx, j.leaseEnd = lctx, done
	}
	return &leaseContext{Context: ctx, lease: j.leaseCtx}, nil
}

func (j *job) releaseLease() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.leaseEnd != nil {
		j.leaseEnd()
		j.leaseEnd, j.leaseCtx = nil, nil
	}
}

// leaseContext is ctx (cancellation, deadline) with the lease's values.
type leaseContext struct {
	context.Context
	lease context.Context
}

func (c *leaseContext) Value(key any) any {
	if v := c.lease.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

func (j *job) warn(msg string) {
	j.mu.Lock()
	j.warnings = append(j.warnings, msg)
	j.mu.Unlock()
	j.prog.Warn(msg)
}

// created is the timestamp of new history entries and of the image.
func (j *job) created() *time.Time {
	if j.opts.SourceDateEpoch != nil {
		t := j.opts.SourceDateEpoch.UTC()
		return &t
	}
	t := j.now().UTC()
	return &t
}

func (j *job) run(ctx context.Context) (*Result, error) {
	args, err := argscope.New(j.opts.BuildArgs, j.file.MetaArgs)
	if err != nil {
		return nil, err
	}
	j.args = args
	if err := j.setupSecurity(); err != nil {
		return nil, err
	}
	if err := rootless.CheckLimits(j.opts.Resources.Limits()...); err != nil {
		return nil, errdefs.InvalidArgumentf("%v", err)
	}
	for _, ref := range j.opts.CacheFrom {
		img, err := j.resolveImage(ctx, ref, false)
		if err != nil {
			j.warn(fmt.Sprintf("[Warning] --cache-from %s: %v", ref, err))
			continue
		}
		cfg, err := parseConfig(img.Config)
		if err != nil {
			j.warn(fmt.Sprintf("[Warning] --cache-from %s: %v", ref, err))
			continue
		}
		j.cacheFrom = append(j.cacheFrom, cfg)
	}
	if err := j.planStages(); err != nil {
		return nil, err
	}
	target, err := j.targetStage()
	if err != nil {
		return nil, err
	}
	needed := map[int]bool{}
	j.markNeeded(target.index, needed)

	g, gctx := errgroup.WithContext(ctx)
	for _, s := range j.stages {
		if !needed[s.index] {
			continue
		}
		g.Go(func() error {
			for _, d := range s.deps {
				select {
				case <-j.stages[d].done:
				case <-gctx.Done():
					return gctx.Err()
				}
				if j.stages[d].err != nil {
					return nil // reported by that stage
				}
			}
			err := s.build(gctx)
			s.err = err
			close(s.done)
			return err
		})
	}
	err = g.Wait()
	// Cache records of the steps that did finish are kept even when the build
	// failed, as docker does.
	if perr := j.flushCache(context.WithoutCancel(ctx)); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	j.checkUnusedArgs()
	return j.export(ctx, target)
}

// setupSecurity checks --security-opt before any step runs (docker: when
// the first RUN container is created), with dockerd's messages.
func (j *job) setupSecurity() error {
	opts, err := spec.ResolveSecurityOpts(j.opts.Resources.SecurityOpt)
	if err != nil {
		return err
	}
	sec, err := spec.ParseSecurityOpts(opts)
	if err != nil {
		return err
	}
	if sec.AppArmor != "" && !spec.AppArmorEnabled() {
		j.warn(fmt.Sprintf("[Warning] --security-opt apparmor=%s ignored: AppArmor is not enabled on this host", sec.AppArmor))
		sec.AppArmor = ""
	}
	for _, l := range sec.Labels {
		j.warn(fmt.Sprintf("[Warning] --security-opt label=%s ignored: hoist build applies no SELinux labels", l))
	}
	j.security = sec
	return nil
}

// checkUnusedArgs warns about --build-arg values no ARG consumed, as docker.
func (j *job) checkUnusedArgs() {
	unused := j.args.Unused()
	if len(unused) == 0 {
		return
	}
	j.warn(fmt.Sprintf("[Warning] One or more build-args [%s] were not consumed", strings.Join(unused, " ")))
}

// stageRun is one stage of the DAG.
type stageRun struct {
	j     *job
	index int
	st    *dockerfile.Stage
	name  string // display name in progress ("" when single stage)
	from  *dockerfile.From
	base  int // index of the stage FROM names, -1 for an image or scratch
	deps  []int
	done  chan struct{}
	err   error
	// result, valid once done is closed without error
	state  *state
	start  *state        // the state FROM gave (the base --squash keeps)
	baseID digest.Digest // the ID of the base image, "" for a stage or scratch
}

// planStages expands every FROM and finds the stage dependencies.
func (j *job) planStages() error {
	byName := map[string]int{}
	for i, st := range j.file.Stages {
		x, _, err := dockerfile.Expand(st.From, j.args.Global())
		if err != nil {
			return err
		}
		from := x.(*dockerfile.From)
		s := &stageRun{j: j, index: i, st: st, from: from, base: -1, done: make(chan struct{})}
		if len(j.file.Stages) > 1 {
			s.name = st.Name
			if s.name == "" {
				s.name = "stage-" + strconv.Itoa(i)
			}
		}
		if bi, ok := byName[strings.ToLower(from.Image)]; ok {
			s.base = bi
			s.deps = append(s.deps, bi)
		}
		// ONBUILD triggers written in the stage do not run here: COPY
		// --from in them is no dependency.
		for _, ins := range st.Instructions {
			for _, ref := range stageRefs(ins) {
				if k, ok := j.lookupStage(ref, byName, i); ok {
					s.deps = append(s.deps, k)
				}
			}
		}
		if st.Name != "" {
			byName[st.Name] = i
		}
		j.stages = append(j.stages, s)
	}
	return nil
}

// stageRefs returns the --from values of an instruction.
func stageRefs(ins dockerfile.Instruction) []string {
	switch x := ins.(type) {
	case *dockerfile.Copy:
		if x.From != "" {
			return []string{x.From}
		}
	case *dockerfile.Run:
		var refs []string
		for _, m := range x.Mounts {
			if m.From != "" {
				refs = append(refs, m.From)
			}
		}
		return refs
	}
	return nil
}

// lookupStage resolves a --from value to an earlier stage: a name or an
// index. ok is false for anything else (an image reference).
func (j *job) lookupStage(ref string, byName map[string]int, current int) (int, bool) {
	if i, ok := byName[strings.ToLower(ref)]; ok {
		return i, true
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < current {
		return n, true
	}
	return 0, false
}

func (j *job) targetStage() (*stageRun, error) {
	if j.opts.Target == "" {
		return j.stages[len(j.stages)-1], nil
	}
	for _, s := range j.stages {
		if s.st.Name == strings.ToLower(j.opts.Target) {
			return s, nil
		}
	}
	return nil, errdefs.InvalidArgumentf("target stage %q could not be found", j.opts.Target)
}

func (j *job) markNeeded(i int, needed map[int]bool) {
	if needed[i] {
		return
	}
	needed[i] = true
	for _, d := range j.stages[i].deps {
		j.markNeeded(d, needed)
	}
}

// stageByRef returns the built state of a stage named by ref, or nil when
// ref is not a stage (an image).
func (j *job) stageByRef(ref string, current int) *stageRun {
	for _, s := range j.stages[:current] {
		if s.st.Name != "" && s.st.Name == strings.ToLower(ref) {
			return s
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < current {
		return j.stages[n]
	}
	return nil
}

// resolveImage finds an image in the local store, pulling it when it is
// not there (or always with pull) if a Puller is configured. Concurrent
// stages naming the same image pull it once.
func (j *job) resolveImage(ctx context.Context, ref string, pull bool) (BaseImage, error) {
	if !pull || j.b.Puller == nil {
		img, err := j.b.Images.Resolve(ctx, ref)
		if err == nil || j.b.Puller == nil || !errdefs.IsNotFound(err) {
			return img, err
		}
	}
	j.mu.Lock()
	if j.pulls == nil {
		j.pulls = map[string]*pullCall{}
	}
	pc, ok := j.pulls[ref]
	if !ok {
		pc = &pullCall{done: make(chan struct{})}
		j.pulls[ref] = pc
	}
	j.mu.Unlock()
	if !ok {
		v := j.prog.Start("pulling " + ref)
		pc.img, pc.err = j.b.Puller.Pull(ctx, ref)
		v.Finish(pc.err)
		close(pc.done)
	}
	select {
	case <-pc.done:
	case <-ctx.Done():
		return BaseImage{}, ctx.Err()
	}
	return pc.img, pc.err
}

type pullCall struct {
	done chan struct{}
	img  BaseImage
	err  error
}

func (j *job) addPending(e cache.Entry) {
	j.mu.Lock()
	j.pending = append(j.pending, e)
	j.mu.Unlock()
}

func (j *job) flushCache(ctx context.Context) error {
	j.mu.Lock()
	entries := j.pending
	j.pending = nil
	j.mu.Unlock()
	if len(entries) == 0 || j.b.Cache == nil {
		return nil
	}
	if err := j.b.Cache.Put(ctx, entries); err != nil {
		return fmt.Errorf("writing build cache records: %w", err)
	}
	return nil
}

// export stores the final image of target and tags it.
func (j *job) export(ctx context.Context, target *stageRun) (*Result, error) {
	st := target.state
	cfg := cloneConfig(st.cfg)
	if len(j.opts.Labels) > 0 {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		for k, v := range j.opts.Labels {
			cfg.Config.Labels[k] = v
		}
	}
	cfg.Created = st.lastCreated(cfg)
	if j.opts.SourceDateEpoch != nil {
		t := j.opts.SourceDateEpoch.UTC()
		cfg.Created = &t
		for i := range cfg.History {
			if cfg.History[i].Created != nil && cfg.History[i].Created.After(t) {
				cfg.History[i].Created = &t
			}
		}
	}
	if j.opts.Output != nil {
		return j.exportFiles(ctx, st, cfg)
	}
	raw, chain := configBytes(cfg), st.chainID
	if j.opts.Squash {
		var err error
		if raw, chain, err = j.squash(ctx, target, cfg); err != nil {
			return nil, err
		}
	}
	v := j.prog.Start("exporting to image")
	j.mu.Lock()
	if j.leaseCtx != nil {
		ctx = &leaseContext{Context: ctx, lease: j.leaseCtx}
	}
	j.mu.Unlock()
	id, err := j.b.Writer.WriteImage(ctx, NewImage{Config: raw, ChainID: chain, Parent: target.baseID, Tags: j.opts.Tags})
	if err != nil {
		v.Finish(err)
		return nil, err
	}
	v.Log("writing image " + id.String())
	for _, t := range j.opts.Tags {
		v.Log("naming to " + t)
	}
	v.Finish(nil)
	return &Result{ID: id, Config: raw}, nil
}

// exportFiles writes the target's root filesystem to the output
// (--output).
func (j *job) exportFiles(ctx context.Context, st *state, cfg *Config) (*Result, error) {
	o := j.opts.Output
	v := j.prog.Start("exporting to client " + o.Type)
	dir, release, err := j.b.Snapshots.View(ctx, st.chainID)
	if err != nil {
		v.Finish(err)
		return nil, err
	}
	defer release()
	if err := o.Write(ctx, dir, j.b.Tar, j.opts.SourceDateEpoch, j.b.Unpacker); err != nil {
		v.Finish(err)
		return nil, err
	}
	v.Finish(nil)
	return &Result{Config: configBytes(cfg), ID: configID(cfg)}, nil
}
