package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/builder/progress"
	"time"
)

func busyboxLike(w *fakeWorld) {
	cfg := &Config{Architecture: "amd64", OS: "linux"}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.Config.Cmd = []string{"sh"}
	cfg.History = append(cfg.History, historyEntry("/bin/sh -c #(nop) ADD file:abc in / "))
	w.addBase("busybox", cfg, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\nappgrp:x:1001:\nstaff:x:50:\n",
		"bin/sh":     "#!fake",
		"tmp/":       "",
	})
}

type built struct {
	res *Result
	cfg *Config
	out string
	err error
}

func doBuild(t *testing.T, b *Builder, df string, opts Options) built {
	t.Helper()
	var out bytes.Buffer
	opts.Dockerfile = []byte(df)
	opts.Progress = &out
	if opts.ProgressMode == "" {
		opts.ProgressMode = progress.Plain
	}
	res, err := b.Build(context.Background(), opts)
	r := built{res: res, out: out.String(), err: err}
	if err == nil {
		cfg, perr := parseConfig(res.Config)
		if perr != nil {
			t.Fatal(perr)
		}
		r.cfg = cfg
	}
	return r
}

func mustBuild(t *testing.T, b *Builder, df string, opts Options) built {
	t.Helper()
	r := doBuild(t, b, df, opts)
	if r.err != nil {
		t.Fatalf("build failed: %v\noutput:\n%s", r.err, r.out)
	}
	return r
}

func createdBy(c *Config) []string {
	var out []string
	for _, h := range c.History {
		s := h.CreatedBy
		if h.EmptyLayer {
			s += " (empty)"
		}
		out = append(out, s)
	}
	return out
}

func TestMetadataInstructionsConfigAndHistory(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	df := `FROM busybox
LABEL a=1 "b c"="d e"
ENV A=x B="y z"
ENV C=${A}-$B
EXPOSE 80 53/udp 8000-8001
VOLUME /data /logs
USER app:staff
STOPSIGNAL SIGINT
SHELL ["/bin/bash", "-c"]
HEALTHCHECK --interval=5s --retries=2 CMD curl -f http://localhost/
CMD echo $A
ONBUILD RUN echo triggered
MAINTAINER someone
`
	r := mustBuild(t, b, df, Options{})
	c := r.cfg.Config
	if !reflect.DeepEqual(c.Env, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=x", "B=y z", "C=x-y z"}) {
		t.Errorf("Env = %q", c.Env)
	}
	if !reflect.DeepEqual(c.Labels, map[string]string{"a": "1", "b c": "d e"}) {
		t.Errorf("Labels = %v", c.Labels)
	}
	wantPorts := map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
	if !reflect.DeepEqual(c.ExposedPorts, wantPorts) {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	if !reflect.DeepEqual(c.Volumes, map[string]struct{}{"/data": {}, "/logs": {}}) {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	if c.User != "app:staff" || c.StopSignal != "SIGINT" {
		t.Errorf("User %q StopSignal %q", c.User, c.StopSignal)
	}
	if !reflect.DeepEqual(c.Shell, []string{"/bin/bash", "-c"}) {
		t.Errorf("Shell = %q", c.Shell)
	}
	if !reflect.DeepEqual(c.Cmd, []string{"/bin/bash", "-c", "echo $A"}) {
		t.Errorf("Cmd = %q", c.Cmd)
	}
	if c.Healthcheck == nil || c.Healthcheck.Interval != 5*time.Second || c.Healthcheck.Retries != 2 ||
		!reflect.DeepEqual(c.Healthcheck.Test, []string{"CMD-SHELL", "curl -f http://localhost/"}) {
		t.Errorf("Healthcheck = %+v", c.Healthcheck)
	}
	if !reflect.DeepEqual(c.OnBuild, []string{"RUN echo triggered"}) {
		t.Errorf("OnBuild = %q", c.OnBuild)
	}
	if r.cfg.Author != "someone" {
		t.Errorf("Author = %q", r.cfg.Author)
	}
	want := []string{
		"/bin/sh -c #(nop) ADD file:abc in / ",
		"LABEL a=1 b c=d e (empty)",
		"ENV A=x B=y z (empty)",
		"ENV C=x-y z (empty)",
		"EXPOSE [80/tcp 53/udp 8000/tcp 8001/tcp] (empty)",
		"VOLUME [/data /logs] (empty)",
		"USER app:staff (empty)",
		"STOPSIGNAL SIGINT (empty)",
		"SHELL [/bin/bash -c] (empty)",
		"HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2} (empty)",
		`CMD ["/bin/bash" "-c" "echo $A"] (empty)`,
		"MAINTAINER someone (empty)",
	}
	if got := createdBy(r.cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("history:\n got %q\nwant %q", got, want)
	}
	for _, h := range r.cfg.History[1:] {
		if h.Comment != "buildkit.dockerfile.v0" {
			t.Errorf("history comment %q", h.Comment)
		}
	}
	if w.prepared != 0 {
		t.Errorf("metadata-only build prepared %d snapshots, want 0", w.prepared)
	}
}

func TestEntrypointResetsInheritedCmd(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := mustBuild(t, b, "FROM busybox\nENTRYPOINT [\"/bin/app\"]\n", Options{})
	if r.cfg.Config.Cmd != nil {
		t.Errorf("Cmd = %q, want reset by ENTRYPOINT", r.cfg.Config.Cmd)
	}
	r = mustBuild(t, b, "FROM busybox\nCMD [\"x\"]\nENTRYPOINT [\"/bin/app\"]\n", Options{})
	if !reflect.DeepEqual(r.cfg.Config.Cmd, []string{"x"}) {
		t.Errorf("Cmd = %q, want kept (set in this stage)", r.cfg.Config.Cmd)
	}
	if !reflect.DeepEqual(r.cfg.Config.Entrypoint, []string{"/bin/app"}) {
		t.Errorf("Entrypoint = %q", r.cfg.Config.Entrypoint)
	}
}

func writeCtx(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openCtx(t *testing.T, dir string) *buildcontext.Context {
	t.Helper()
	c, err := buildcontext.New(dir, buildcontext.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const cacheDF = `FROM busybox
RUN echo one > /one
COPY app /app/
RUN echo two > /two
ENV X=1
CMD ["sh"]
`

var cachedRe = regexp.MustCompile(`(?m)^#\d+ CACHED$`)

func TestCacheHitsAndMissReasons(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	dir := writeCtx(t, map[string]string{"app/main.txt": "v1", "app/sub/x": "x"})

	first := mustBuild(t, b, cacheDF, Options{Context: openCtx(t, dir), Tags: []string{"app:1"}})
	if n := len(cachedRe.FindAllString(first.out, -1)); n != 0 {
		t.Errorf("first build: %d CACHED lines:\n%s", n, first.out)
	}
	if w.runCount() != 2 {
		t.Fatalf("runs = %d, want 2", w.runCount())
	}
	if !strings.Contains(first.out, "cache miss: nothing cached on this parent yet") || strings.Contains(first.out, "parent changed") {
		t.Errorf("first build should explain the miss (no cache yet):\n%s", first.out)
	}

	// No-op rebuild: everything cached, same image ID, nothing prepared.
	prepared := w.prepared
	second := mustBuild(t, b, cacheDF, Options{Context: openCtx(t, dir)})
	if n := len(cachedRe.FindAllString(second.out, -1)); n != 5 {
		t.Errorf("no-op rebuild: %d CACHED lines, want 5:\n%s", n, second.out)
	}
	if second.res.ID != first.res.ID {
		t.Errorf("no-op rebuild gave %s, first %s", second.res.ID, first.res.ID)
	}
	if w.prepared != prepared || w.runCount() != 2 {
		t.Errorf("no-op rebuild prepared %d snapshots and ran %d steps", w.prepared-prepared, w.runCount()-2)
	}

	// mtime-only change: still cached (content and metadata, not mtime).
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "app/main.txt"), future, future)
	third := mustBuild(t, b, cacheDF, Options{Context: openCtx(t, dir)})
	if third.res.ID != first.res.ID {
		t.Errorf("mtime-only change rebuilt:\n%s", third.out)
	}

	// Content change: COPY misses with its reason, later steps re-run.
	os.WriteFile(filepath.Join(dir, "app/main.txt"), []byte("v2"), 0o644)
	fourth := mustBuild(t, b, cacheDF, Options{Context: openCtx(t, dir)})
	if !strings.Contains(fourth.out, "cache miss: COPY sources changed") {
		t.Errorf("missing COPY miss reason:\n%s", fourth.out)
	}
	if n := len(cachedRe.FindAllString(fourth.out, -1)); n != 1 {
		t.Errorf("after a change: %d CACHED, want 1 (the first RUN):\n%s", n, fourth.out)
	}
	if w.runCount() != 3 {
		t.Errorf("runs = %d, want 3 (the RUN after COPY re-ran)", w.runCount())
	}
	if fourth.res.ID == first.res.ID {
		t.Error("changed source gave the same image")
	}

	// Mode change counts as a change.
	os.Chmod(filepath.Join(dir, "app/main.txt"), 0o600)
	fifth := mustBuild(t, b, cacheDF, Options{Context: openCtx(t, dir)})
	if !strings.Contains(fifth.out, "cache miss: COPY sources changed") {
		t.Errorf("mode change not seen:\n%s", fifth.out)
	}

	// Instruction change.
	df2 := strings.Replace(cacheDF, "echo two", "echo three", 1)
	sixth := mustBuild(t, b, df2, Options{Context: openCtx(t, dir)})
	if !strings.Contains(sixth.out, "cache miss: instruction changed") {
		t.Errorf("missing instruction-changed reason:\n%s", sixth.out)
	}

	// --no-cache runs everything.
	runs := w.runCount()
	mustBuild(t, b, df2, Options{Context: openCtx(t, dir), NoCache: true})
	if w.runCount()-runs != 2 {
		t.Errorf("--no-cache ran %d steps, want 2", w.runCount()-runs)
	}
}

func TestCacheUsesArgValuesForRun(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	df := "FROM busybox\nARG V=1\nRUN echo hi\n"
	r1 := mustBuild(t, b, df, Options{})
	r2 := mustBuild(t, b, df, Options{BuildArgs: map[string]string{"V": "2"}})
	if w.runCount() != 2 {
		t.Errorf("changing a build arg used by RUN must re-run it: runs=%d", w.runCount())
	}
	if r1.res.ID == r2.res.ID {
		t.Error("same image for different ARG values")
	}
	got := r2.cfg.History[len(r2.cfg.History)-1].CreatedBy
	if got != "RUN |1 V=2 /bin/sh -c echo hi # buildkit" {
		t.Errorf("RUN history = %q", got)
	}
	if a := r2.cfg.History[len(r2.cfg.History)-2].CreatedBy; a != "ARG V=2" {
		t.Errorf("ARG history = %q", a)
	}
}

func TestArgScoping(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	w.addBase("busybox:1.36", &Config{Architecture: "amd64", OS: "linux"}, map[string]string{"bin/sh": "x"})
	b := w.builder()
	df := `ARG TAG=latest
ARG GLOBAL=g
FROM busybox:${TAG}
ENV E1=${GLOBAL}-x
ARG GLOBAL
ENV E2=${GLOBAL}
ARG LOCAL=l
ARG FROMCLI
ENV E3=$LOCAL-$FROMCLI
RUN env
`
	r := doBuild(t, b, df, Options{BuildArgs: map[string]string{"TAG": "1.36", "FROMCLI": "cli", "UNUSED": "u", "HTTP_PROXY": "http://p"}})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	env := r.cfg.Config.Env
	for _, want := range []string{"E1=-x", "E2=g", "E3=l-cli"} {
		if !contains(env, want) {
			t.Errorf("Env %q lacks %q", env, want)
		}
	}
	if r.res.Warnings == nil || !strings.Contains(r.out, "[Warning] One or more build-args [UNUSED] were not consumed") {
		t.Errorf("missing unused build-arg warning:\n%s", r.out)
	}
	run := w.runs[len(w.runs)-1]
	for _, want := range []string{"GLOBAL=g", "LOCAL=l", "FROMCLI=cli", "HTTP_PROXY=http://p"} {
		if !contains(run.Env, want) {
			t.Errorf("RUN env %q lacks %q", run.Env, want)
		}
	}
	if contains(run.Env, "TAG=1.36") {
		t.Errorf("global ARG TAG leaked into the stage: %q", run.Env)
	}
	// The ARG values are not in the image config.
	for _, e := range env {
		if strings.HasPrefix(e, "LOCAL=") || strings.HasPrefix(e, "GLOBAL=") {
			t.Errorf("ARG persisted in Env: %q", e)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestTargetPruningAndStageCopy(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	df := `FROM busybox AS unused
RUN echo never > /never

FROM busybox AS builder
RUN echo built > /out/artifact

FROM busybox AS other
RUN echo other > /other

FROM scratch AS final
COPY --from=builder /out/artifact /artifact
COPY --from=1 /out /copied/

FROM busybox
RUN echo last > /last
`
	r := mustBuild(t, b, df, Options{Target: "final", Tags: []string{"final:1"}})
	if w.runCount() != 1 {
		var cmds []string
		for _, run := range w.runs {
			cmds = append(cmds, run.Args[len(run.Args)-1])
		}
		t.Fatalf("ran %q, want only the builder stage", cmds)
	}
	if len(r.cfg.RootFS.DiffIDs) != 2 {
		t.Errorf("final has %d layers, want 2", len(r.cfg.RootFS.DiffIDs))
	}
	img, _ := w.Resolve(context.Background(), "final:1")
	dir, _, _ := w.View(context.Background(), img.ChainID)
	for p, want := range map[string]string{"artifact": "built\n", "copied/artifact": "built\n"} {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", p, got, err)
		}
	}
	if !strings.Contains(r.out, "[builder 2/2] RUN echo built > /out/artifact") {
		t.Errorf("progress lacks stage-labelled step:\n%s", r.out)
	}
	if strings.Contains(r.out, "never") || strings.Contains(r.out, "echo other") {
		t.Errorf("pruned stages appear in the output:\n%s", r.out)
	}

	if r := doBuild(t, b, df, Options{Target: "nope"}); r.err == nil || !strings.Contains(r.err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("unknown target: %v", r.err)
	}
}

func TestIndependentStagesAllBuilt(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	df := `FROM busybox AS a
RUN echo a > /a
FROM busybox AS b
RUN echo b > /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
`
	r := mustBuild(t, b, df, Options{})
	if w.runCount() != 2 {
		t.Fatalf("runs = %d", w.runCount())
	}
	if len(r.cfg.RootFS.DiffIDs) != 3 {
		t.Errorf("layers = %d, want 3", len(r.cfg.RootFS.DiffIDs))
	}
}

func TestCopyFromImageAndUnknownStage(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := mustBuild(t, b, "FROM scratch\nCOPY --from=busybox /etc/passwd /passwd\n", Options{})
	if len(r.cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("layers = %d", len(r.cfg.RootFS.DiffIDs))
	}
	bad := doBuild(t, b, "FROM scratch\nCOPY --from=nosuch /x /x\n", Options{})
	if bad.err == nil || !strings.Contains(bad.err.Error(), "nosuch") {
		t.Errorf("COPY --from unknown: %v", bad.err)
	}
}

func TestOnbuildTriggersRunInChild(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	mustBuild(t, b, "FROM busybox\nONBUILD RUN echo trig > /trig\nONBUILD ENV T=1\n", Options{Tags: []string{"parent"}})
	if w.runCount() != 0 {
		t.Fatal("ONBUILD trigger ran in the parent")
	}
	r := mustBuild(t, b, "FROM parent\nRUN echo child\n", Options{})
	if w.runCount() != 2 {
		t.Errorf("runs = %d, want trigger + child", w.runCount())
	}
	if !contains(r.cfg.Config.Env, "T=1") {
		t.Errorf("trigger ENV not applied: %q", r.cfg.Config.Env)
	}
	if r.cfg.Config.OnBuild != nil {
		t.Errorf("OnBuild not cleared in child: %q", r.cfg.Config.OnBuild)
	}
}

func TestRunFailureLeavesNoImage(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := doBuild(t, b, "FROM busybox\nRUN echo before > /f\nRUN exit 3\n", Options{Tags: []string{"failed:1"}})
	var re *RunError
	if !errors.As(r.err, &re) || re.ExitCode != 3 {
		t.Fatalf("err = %v, want RunError code 3", r.err)
	}
	if !strings.Contains(r.err.Error(), `Dockerfile:3: RUN: The command '/bin/sh -c exit 3' returned a non-zero code: 3`) {
		t.Errorf("message: %v", r.err)
	}
	if !strings.Contains(r.out, "exiting with 3") || !strings.Contains(r.out, "ERROR") {
		t.Errorf("output lacks the step's output and error:\n%s", r.out)
	}
	if _, err := w.Resolve(context.Background(), "failed:1"); err == nil {
		t.Error("failed build left a tag")
	}
	if w.active != 0 {
		t.Errorf("%d snapshots not released", w.active)
	}
	// The successful step before the failure is cached for the next try.
	r2 := doBuild(t, b, "FROM busybox\nRUN echo before > /f\nRUN exit 3\n", Options{})
	if !strings.Contains(r2.out, "CACHED") {
		t.Errorf("step before the failure not cached:\n%s", r2.out)
	}
}

func TestSourceDateEpochReproducible(t *testing.T) {
	epoch := time.Unix(1700000000, 0)
	var ids []string
	for i := 0; i < 2; i++ {
		w := newFakeWorld(t)
		busyboxLike(w)
		b := w.builder()
		b.Now = func() time.Time { return time.Now().Add(time.Duration(i) * time.Hour) }
		r := mustBuild(t, b, "FROM busybox\nRUN echo a > /a\nENV X=1\n", Options{NoCache: true, SourceDateEpoch: &epoch})
		ids = append(ids, r.res.ID.String())
		if !r.cfg.Created.Equal(epoch) {
			t.Errorf("created = %v", r.cfg.Created)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("SOURCE_DATE_EPOCH builds differ: %v", ids)
	}
}

func TestWorkdirCreatedAndRelative(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := mustBuild(t, b, "FROM busybox\nUSER app\nWORKDIR /srv\nWORKDIR app\nRUN echo x > /marker\n", Options{})
	if r.cfg.Config.WorkingDir != "/srv/app" {
		t.Errorf("WorkingDir = %q", r.cfg.Config.WorkingDir)
	}
	img := w.images[r.res.ID.String()]
	dir, _, _ := w.View(context.Background(), img.ChainID)
	fi, err := os.Stat(filepath.Join(dir, "srv/app"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("workdir not created: %v", err)
	}
	if run := w.runs[0]; run.Cwd != "/srv/app" || run.User != "app" {
		t.Errorf("RUN cwd %q user %q", run.Cwd, run.User)
	}
	want := []string{"USER app (empty)", "WORKDIR /srv", "WORKDIR /srv/app", "RUN /bin/sh -c echo x > /marker # buildkit"}
	if got := createdBy(r.cfg)[1:]; !reflect.DeepEqual(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
}

func TestRunHeredocArgs(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	mustBuild(t, b, "FROM busybox\nRUN <<EOF\necho a && echo b\nEOF\n", Options{})
	if got := w.runs[0].Args; !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo a && echo b\n"}) {
		t.Errorf("heredoc args = %q", got)
	}
}

func TestQuietModePrintsNothing(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := mustBuild(t, b, "FROM busybox\nRUN echo hi\n", Options{ProgressMode: progress.Quiet})
	if r.out != "" {
		t.Errorf("quiet output: %q", r.out)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := doBuild(t, b, "FROM busybox\nFORM x\n", Options{})
	if r.err == nil || !strings.Contains(r.err.Error(), "Dockerfile:2") {
		t.Errorf("err = %v", r.err)
	}
	r = doBuild(t, b, "FROM nosuchimage\n", Options{})
	if r.err == nil || !strings.Contains(r.err.Error(), "nosuchimage") {
		t.Errorf("err = %v", r.err)
	}
}

func TestCacheFromImageHistory(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	dir := writeCtx(t, map[string]string{"f": "1"})
	df := "FROM busybox\nRUN echo a > /a\nENV X=1\nCOPY f /f\nRUN echo b > /b\n"
	first := mustBuild(t, b, df, Options{Context: openCtx(t, dir), Tags: []string{"cached:1"}})
	runs := w.runCount()

	// A fresh cache (another machine): --cache-from reuses every step from
	// the image's history, COPY through the content hash its history
	// records ("COPY file:<sha256> in /f"), and gives the same image.
	b.Cache = cache.NewMemory()
	r := mustBuild(t, b, df, Options{Context: openCtx(t, dir), CacheFrom: []string{"cached:1", "nosuch:1"}})
	if got := w.runCount() - runs; got != 0 {
		t.Errorf("ran %d RUN steps, want 0", got)
	}
	if n := len(cachedRe.FindAllString(r.out, -1)); n != 4 {
		t.Errorf("%d CACHED, want 4:\n%s", n, r.out)
	}
	if r.res.ID != first.res.ID {
		t.Errorf("--cache-from build gave %s, want the cached image %s", r.res.ID, first.res.ID)
	}
	// A changed source: the COPY misses, and the RUN after it runs.
	os.WriteFile(filepath.Join(dir, "f"), []byte("2"), 0o644)
	b.Cache = cache.NewMemory()
	r2 := mustBuild(t, b, df, Options{Context: openCtx(t, dir), CacheFrom: []string{"cached:1"}})
	if got := w.runCount() - runs; got != 1 {
		t.Errorf("ran %d RUN steps, want 1\n%s", got, r2.out)
	}
	if n := len(cachedRe.FindAllString(r2.out, -1)); n != 2 {
		t.Errorf("changed COPY source: %d CACHED, want 2 (RUN, ENV):\n%s", n, r2.out)
	}
	// So does a changed --chown (the same content).
	b.Cache = cache.NewMemory()
	os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644)
	r3 := mustBuild(t, b, strings.Replace(df, "COPY f", "COPY --chown=1:1 f", 1), Options{Context: openCtx(t, dir), CacheFrom: []string{"cached:1"}})
	if n := len(cachedRe.FindAllString(r3.out, -1)); n != 2 {
		t.Errorf("changed --chown: %d CACHED, want 2:\n%s", n, r3.out)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644)
	if !strings.Contains(r.out, "--cache-from nosuch:1") {
		t.Errorf("no warning for a missing --cache-from image:\n%s", r.out)
	}
	if got, want := r.cfg.RootFS.DiffIDs[:2], first.cfg.RootFS.DiffIDs[:2]; !reflect.DeepEqual(got, want) {
		t.Errorf("reused layers %v, want %v", got, want)
	}
	// Without --cache-from everything runs.
	b.Cache = cache.NewMemory()
	runs = w.runCount()
	mustBuild(t, b, df, Options{Context: openCtx(t, dir)})
	if w.runCount()-runs != 2 {
		t.Errorf("ran %d, want 2", w.runCount()-runs)
	}
}

// A 10,000-line Dockerfile builds (each step costs O(1) in cache records and
// state IDs, not O(steps)).
func TestTenThousandLineDockerfile(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	var sb strings.Builder
	sb.WriteString("FROM busybox\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "ENV V%d=%d\n", i, i)
	}
	r := mustBuild(t, b, sb.String(), Options{ProgressMode: progress.Quiet})
	if len(r.cfg.Config.Env) != 10001 || len(r.cfg.History) != 10001 {
		t.Errorf("env %d history %d", len(r.cfg.Config.Env), len(r.cfg.History))
	}
	r2 := mustBuild(t, b, sb.String(), Options{ProgressMode: progress.Quiet})
	if r2.res.ID != r.res.ID {
		t.Error("cached rebuild of a long Dockerfile gave another image")
	}
}

type fakePuller struct {
	w     *fakeWorld
	mu    sync.Mutex
	pulls []string
}

func (p *fakePuller) Pull(ctx context.Context, ref string) (BaseImage, error) {
	p.mu.Lock()
	p.pulls = append(p.pulls, ref)
	p.mu.Unlock()
	if ref != "remote/img:1" {
		return BaseImage{}, errors.New("pull access denied for " + ref)
	}
	cfg := &Config{Architecture: "amd64", OS: "linux"}
	cfg.Config.Env = []string{"FROM_REGISTRY=1"}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	return p.w.addBaseLocked(ref, cfg, map[string]string{"remote": "r"}), nil
}

func TestMissingImagesArePulledOnce(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	p := &fakePuller{w: w}
	b.Puller = p
	df := "FROM remote/img:1 AS a\nFROM remote/img:1 AS b\nFROM busybox\nCOPY --from=a /remote /a\nCOPY --from=b /remote /b\nCOPY --from=remote/img:1 /remote /c\n"
	r := mustBuild(t, b, df, Options{})
	if len(p.pulls) != 1 {
		t.Errorf("pulls = %q, want one", p.pulls)
	}
	if !strings.Contains(r.out, "pulling remote/img:1") {
		t.Errorf("no pull progress:\n%s", r.out)
	}
	// --pull pulls a local image again; a failing pull fails the build.
	r2 := doBuild(t, b, "FROM busybox\n", Options{Pull: true})
	if r2.err == nil || !strings.Contains(r2.err.Error(), "pull access denied for busybox") {
		t.Errorf("--pull of busybox: %v", r2.err)
	}
}

func TestTTYProgressIsALiveView(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	r := mustBuild(t, b, "FROM busybox\nRUN echo from-run\nENV A=1\n", Options{ProgressMode: progress.TTY})
	for _, want := range []string{"\x1b[", " => [2/3] RUN echo from-run", "from-run", " => exporting to image"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("tty output lacks %q:\n%q", want, r.out)
		}
	}
	r = mustBuild(t, b, "FROM busybox\nRUN echo from-run\nENV A=1\n", Options{ProgressMode: progress.TTY})
	if !strings.Contains(r.out, " => CACHED [2/3] RUN echo from-run") {
		t.Errorf("tty rebuild lacks CACHED lines:\n%q", r.out)
	}
}
