package engine

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// RemoteContext is a build context that stays on the client and is sent on
// request, as BuildKit's local sources are: Fetch mirrors the client's
// directory named name into dest, sending only the paths that match
// include (all when empty) and not exclude, and removing from dest what
// the client does not have. The mirrors are kept between builds (per Key
// and name, see SyncedBuildContext) so that a rebuild receives only what
// changed and the stat cache and COPY's copy index find the same paths.
type RemoteContext struct {
	// Key tells clients apart (BuildKit's session shared key).
	Key string
	// ContextName and DockerfileName are the client's names of the
	// context directory and of the directory holding the Dockerfile.
	ContextName, DockerfileName string
	// Filename is the Dockerfile's name in its directory.
	Filename string
	Fetch    func(ctx context.Context, name, dest string, include, exclude []string) error
}

// fetchRemote mirrors a remote context: the Dockerfile (and its own ignore
// file) first, then the ignore patterns in force (docker's rule, owned by
// buildcontext: Dockerfile.dockerignore, else the context's .dockerignore),
// then the context without what they exclude. It returns the context
// directory and the Dockerfile's path, locked until release.
func (e *Engine) fetchRemote(ctx context.Context, tmpDir string, rc *RemoteContext) (ctxDir, dfPath string, release func(), err error) {
	var releases []func()
	release = func() {
		for _, r := range releases {
			r()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	name := rc.Filename
	if name == "" {
		name = "Dockerfile"
	}
	if filepath.IsAbs(name) || !filepath.IsLocal(name) {
		return "", "", release, errdefs.InvalidArgumentf("invalid Dockerfile name %q: it must be a path inside its directory", name)
	}
	dfDir, rel, err := e.SyncedBuildContext(rc.Key + "\x00dockerfile\x00" + rc.DockerfileName)
	if err != nil {
		return "", "", release, err
	}
	releases = append(releases, rel)
	if err := rc.Fetch(ctx, rc.DockerfileName, dfDir, []string{name, name + ".dockerignore"}, nil); err != nil {
		return "", "", release, err
	}
	dfPath = filepath.Join(dfDir, filepath.FromSlash(name))
	if _, err := os.Stat(dfPath); err != nil {
		return "", "", release, errdefs.InvalidArgumentf("failed to read dockerfile: open %s: no such file or directory", name)
	}
	// The context's own .dockerignore, unless the Dockerfile has one.
	ignDir, err := os.MkdirTemp(tmpDir, "ignore-")
	if err != nil {
		return "", "", release, err
	}
	defer os.RemoveAll(ignDir)
	if _, err := os.Stat(dfPath + ".dockerignore"); err != nil {
		if err := rc.Fetch(ctx, rc.ContextName, ignDir, []string{".dockerignore"}, nil); err != nil {
			return "", "", release, err
		}
	} else if err := os.Link(dfPath+".dockerignore", filepath.Join(ignDir, ".dockerignore")); err != nil {
		return "", "", release, err
	}
	excludes, _, err := buildcontext.IgnorePatterns(ignDir, "")
	if err != nil {
		return "", "", release, err
	}
	ctxDir, rel, err = e.SyncedBuildContext(rc.Key + "\x00context\x00" + rc.ContextName)
	if err != nil {
		return "", "", release, err
	}
	releases = append(releases, rel)
	if err := rc.Fetch(ctx, rc.ContextName, ctxDir, nil, excludes); err != nil {
		return "", "", release, err
	}
	return ctxDir, dfPath, release, nil
}
