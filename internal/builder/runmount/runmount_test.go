package runmount

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/builder/runc"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
)

func newEnv(t *testing.T) *Env {
	t.Helper()
	root := t.TempDir()
	ctxDir := filepath.Join(root, "ctx")
	os.MkdirAll(filepath.Join(ctxDir, "sub"), 0o755)
	os.WriteFile(filepath.Join(ctxDir, "sub", "f"), []byte("ctx"), 0o644)
	secret := filepath.Join(root, "secret.txt")
	os.WriteFile(secret, []byte("s3cret"), 0o644)
	tree := filepath.Join(root, "tree")
	os.MkdirAll(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "t"), []byte("tree"), 0o644)
	os.MkdirAll(filepath.Join(root, "tmp"), 0o755)
	return &Env{
		CacheDir:   filepath.Join(root, "cache"),
		TmpDir:     filepath.Join(root, "tmp"),
		Secrets:    map[string]string{"tok": secret},
		ContextDir: ctxDir,
		Tree: func(_ context.Context, from string) (string, func(), error) {
			if from != "stage" {
				return "", nil, errdefs.NotFoundf("no stage %s", from)
			}
			return tree, nil, nil
		},
	}
}

func mustMount(t *testing.T, e *Env, m *dockerfile.Mount) runc.Mount {
	t.Helper()
	ms, release, err := e.Mount(context.Background(), m, "/work")
	if release != nil {
		t.Cleanup(release)
	}
	if err != nil || len(ms) != 1 {
		t.Fatalf("Mount(%+v) = %v, %v", *m, ms, err)
	}
	return ms[0]
}

func TestMountKinds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("secret copies are chowned: needs root")
	}
	e := newEnv(t)
	if m := mustMount(t, e, &dockerfile.Mount{Type: dockerfile.MountTmpfs, Target: "/t", Size: 1024}); m.Type != "tmpfs" || m.Destination != "/t" || !strings.Contains(strings.Join(m.Options, ","), "size=1024") {
		t.Errorf("tmpfs: %+v", m)
	}
	mode := uint32(0o700)
	m := mustMount(t, e, &dockerfile.Mount{Type: dockerfile.MountCache, Target: "rel/../c", Mode: &mode})
	if m.Source != filepath.Join(e.CacheDir, "_work_c") || m.Destination != "/work/c" {
		t.Errorf("cache: %+v", m)
	}
	if fi, err := os.Stat(m.Source); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v %v", fi, err)
	}
	m = mustMount(t, e, &dockerfile.Mount{Type: dockerfile.MountSecret, ID: "tok"})
	if m.Destination != "/run/secrets/tok" || filepath.Dir(filepath.Dir(m.Source)) != e.TmpDir {
		t.Errorf("secret: %+v", m)
	}
	if fi, err := os.Stat(m.Source); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("secret copy: %v %v", fi, err)
	}
	m = mustMount(t, e, &dockerfile.Mount{Type: dockerfile.MountBind, Source: "sub", Target: "/src", ReadOnly: true})
	if m.Source != filepath.Join(e.ContextDir, "sub") || m.Options[1] != "ro" {
		t.Errorf("ro bind of the context: %+v", m)
	}
	m = mustMount(t, e, &dockerfile.Mount{Type: dockerfile.MountBind, Source: "sub", Target: "/src"})
	if !strings.HasPrefix(m.Source, e.TmpDir) || m.Options[1] != "rw" {
		t.Errorf("rw bind of the context is not a private copy: %+v", m)
	}
	if b, _ := os.ReadFile(filepath.Join(m.Source, "f")); string(b) != "ctx" {
		t.Errorf("rw copy holds %q", b)
	}
	m = mustMount(t, e, &dockerfile.Mount{Type: dockerfile.MountBind, From: "stage", Source: "t", Target: "/t", ReadOnly: true})
	if b, _ := os.ReadFile(m.Source); string(b) != "tree" {
		t.Errorf("bind from a stage: %+v", m)
	}
}

func TestMountErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.Mount(ctx, &dockerfile.Mount{Type: dockerfile.MountSecret, ID: "nope", Required: true}, "/"); !errdefs.IsNotFound(err) {
		t.Errorf("required missing secret: %v", err)
	}
	if ms, _, err := e.Mount(ctx, &dockerfile.Mount{Type: dockerfile.MountSecret, ID: "nope"}, "/"); err != nil || ms != nil {
		t.Errorf("optional missing secret: %v %v", ms, err)
	}
	if _, _, err := e.Mount(ctx, &dockerfile.Mount{Type: dockerfile.MountBind, Source: "missing", Target: "/m"}, "/"); !errdefs.IsNotFound(err) {
		t.Errorf("missing bind source: %v", err)
	}
	if _, _, err := e.Mount(ctx, &dockerfile.Mount{Type: dockerfile.MountBind, From: "other", Target: "/m"}, "/"); !errdefs.IsNotFound(err) {
		t.Errorf("unknown from: %v", err)
	}
	noCtx := *e
	noCtx.ContextDir = ""
	if _, _, err := noCtx.Mount(ctx, &dockerfile.Mount{Type: dockerfile.MountBind, Target: "/m"}, "/"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bind without a context: %v", err)
	}
	if _, _, err := e.Mount(ctx, &dockerfile.Mount{Type: dockerfile.MountSSH, Target: "/m"}, "/"); err == nil {
		t.Error("ssh mount accepted")
	}
}

func TestScriptAndSecretEnv(t *testing.T) {
	e := newEnv(t)
	m, cleanup, err := e.Script("run.sh", "#!/bin/sh\necho hi\n")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(m.Source, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 || m.Destination != "/dev/pipes" {
		t.Errorf("script: %+v %v %v", m, fi, err)
	}
	cleanup()
	if _, err := os.Stat(m.Source); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("script dir not removed: %v", err)
	}
	env := []string{"A=1"}
	got, err := e.SecretEnv(context.Background(), env, []*dockerfile.Mount{
		{Type: dockerfile.MountSecret, ID: "tok", Env: "TOKEN"},
		{Type: dockerfile.MountSecret, ID: "absent", Env: "X"},
		{Type: dockerfile.MountSecret, ID: "tok"},
	})
	if err != nil || strings.Join(got, " ") != "A=1 TOKEN=s3cret" || len(env) != 1 {
		t.Errorf("SecretEnv = %q, %v (env %q)", got, err, env)
	}
}
