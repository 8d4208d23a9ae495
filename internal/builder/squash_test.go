package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hoistproject/hoist/internal/images"
)

// TestIntegrationSquash: --squash merges the layers the final stage adds
// into one (whiteouts merged: a file added then deleted is gone, a base
// file deleted stays a whiteout), keeps the base's layers, the config and
// every history entry (empty_layer after the base's, plus docker's "merge
// X to Y" entry), and keeps the unsquashed image untagged.
func TestIntegrationSquash(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	ctxDir := writeCtx(t, map[string]string{"f.txt": "copied\n"})
	df := `FROM busybox
RUN echo one > /transient && mkdir -p /d && echo a > /d/a
RUN rm /transient /bin/arch && echo b > /d/b
ENV X=1
COPY f.txt /f.txt
`
	plain, _ := e.build(t, df, ctxDir, Options{Tags: []string{"sq/plain"}})
	if plain.err != nil {
		t.Fatalf("%v\n%s", plain.err, plain.out)
	}
	r, _ := e.build(t, df, ctxDir, Options{Tags: []string{"sq/squashed"}, Squash: true})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	base, err := e.st.Get(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	baseCfg, _ := parseConfig(base.RawConfig)
	nb := len(baseCfg.RootFS.DiffIDs)
	if got := len(r.cfg.RootFS.DiffIDs); got != nb+1 {
		t.Fatalf("squashed image has %d layers, want base's %d + 1", got, nb)
	}
	for i := range nb {
		if r.cfg.RootFS.DiffIDs[i] != baseCfg.RootFS.DiffIDs[i] {
			t.Errorf("base layer %d changed", i)
		}
	}
	// Config unchanged; history kept, empty_layer after the base's.
	if !contains(r.cfg.Config.Env, "X=1") || r.cfg.Config.Cmd[0] != "sh" {
		t.Errorf("config changed: %+v", r.cfg.Config)
	}
	h := r.cfg.History
	if len(h) != len(plain.cfg.History)+1 {
		t.Fatalf("history has %d entries, want %d + 1", len(h), len(plain.cfg.History))
	}
	for i := range plain.cfg.History {
		if h[i].CreatedBy != plain.cfg.History[i].CreatedBy {
			t.Errorf("history[%d] = %q, want %q", i, h[i].CreatedBy, plain.cfg.History[i].CreatedBy)
		}
		want := true // everything above the base
		if i < len(baseCfg.History) {
			want = baseCfg.History[i].EmptyLayer
		}
		if h[i].EmptyLayer != want {
			t.Errorf("history[%d] empty_layer = %v", i, h[i].EmptyLayer)
		}
	}
	last := h[len(h)-1]
	if last.EmptyLayer || !strings.HasPrefix(last.Comment, "merge sha256:") || !strings.HasSuffix(last.Comment, " to "+base.ID.String()) {
		t.Errorf("squash history entry %+v", last)
	}
	// The files: the merged view.
	for p, want := range map[string]string{"d/a": "a\n", "d/b": "b\n", "f.txt": "copied\n"} {
		if got, _ := e.readImageFile(t, "sq/squashed", p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	for _, p := range []string{"transient", "bin/arch"} {
		if _, fi := e.readImageFile(t, "sq/squashed", p); fi != nil {
			t.Errorf("/%s exists in the squashed image", p)
		}
	}
	// The squashed layer itself: a whiteout for the base's file, nothing at
	// all for the file added and deleted above the base.
	sq, err := e.st.Get(ctx, "sq/squashed")
	if err != nil {
		t.Fatal(err)
	}
	dirs, _, err := e.st.DiffDirs(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	diff := dirs[len(dirs)-1]
	if fi, err := os.Lstat(filepath.Join(diff, "bin/arch")); err != nil || fi.Mode()&os.ModeCharDevice == 0 || fi.Sys().(*syscall.Stat_t).Rdev != 0 {
		t.Errorf("bin/arch in the squashed layer: %v %v, want a whiteout", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(diff, "transient")); err == nil {
		t.Errorf("/transient left a trace in the squashed layer")
	}
	// The unsquashed image is kept, untagged: it is the plain build's.
	list, err := e.st.List(ctx, images.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, im := range list {
		if im.ID == plain.res.ID {
			found = true
		}
	}
	if !found {
		t.Errorf("unsquashed image %s not kept", plain.res.ID)
	}
	// A rebuild is cached, squash included: the same image.
	r2, _ := e.build(t, df, ctxDir, Options{Tags: []string{"sq/squashed"}, Squash: true})
	if r2.err != nil || r2.res.ID != r.res.ID {
		t.Errorf("squashed rebuild: %v, ID %s then %s\n%s", r2.err, r.res.ID, r2.res.ID, r2.out)
	}
	if strings.Count(r2.out, "CACHED") != 5 {
		t.Errorf("rebuild not fully cached:\n%s", r2.out)
	}
}
