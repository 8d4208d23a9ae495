package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestImportResolve(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	lt := layerTar(t, map[string]string{"bin/sh": "shell", "etc/hostname": "x"})
	img, err := s.Import(ctx, bytes.NewReader(lt), ImportOptions{Name: "busybox", Changes: []string{"CMD [\"sh\"]", "ENV A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Names, []string{"docker.io/library/busybox:latest"}) {
		t.Fatalf("names %v", img.Names)
	}
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", img.ID.String(), img.ID.Encoded(), img.ID.Encoded()[:5], "sha256:" + img.ID.Encoded()[:8]} {
		got, err := s.Resolve(ctx, ref)
		if err != nil || got.ID != img.ID {
			t.Errorf("resolve %q: %v %v", ref, got.ID, err)
		}
	}
	// docker names what it looked for: a name with its default tag
	for ref, named := range map[string]string{"nosuch": "nosuch:latest", "busybox:other": "busybox:other",
		"sha256:" + strings.Repeat("0", 64): "sha256:" + strings.Repeat("0", 64), "fffff": "fffff:latest"} {
		_, err := s.Resolve(ctx, ref)
		if !errdefs.IsNotFound(err) || err.Error() != "No such image: "+named {
			t.Errorf("resolve %q: want No such image: %s, got %v", ref, named, err)
		}
	}
	for _, ref := range []string{"UPPER:tag", "a:b:c"} {
		if _, err := s.Resolve(ctx, ref); !errdefs.IsInvalidArgument(err) {
			t.Errorf("resolve %q: want invalid argument, got %v", ref, err)
		}
	}
	f, err := s.Get(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if f.Config.Comment != "Imported from -" || !slices.Equal(f.Config.Config.Cmd, []string{"sh"}) || !slices.Equal(f.Config.Config.Env, []string{"A=1"}) {
		t.Fatalf("config: %+v", f.Config)
	}
	if len(f.Layers) != 1 || f.Layers[0].Size != int64(len("shell")+1) || f.Size != 6 {
		t.Fatalf("layers %+v size %d", f.Layers, f.Size)
	}
	if b, err := os.ReadFile(filepath.Join(s.ls.DiffDir(f.Layers[0].ChainID), "bin/sh")); err != nil || string(b) != "shell" {
		t.Fatalf("unpacked: %q %v", b, err)
	}
	// The stored blob is the uncompressed tar: its digest is the diffID.
	if f.Layers[0].Blob.Digest != f.Layers[0].DiffID {
		t.Fatalf("blob %s diffID %s", f.Layers[0].Blob.Digest, f.Layers[0].DiffID)
	}
}

func TestImportBadInput(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	lt := layerTar(t, map[string]string{"a": strings.Repeat("x", 10000)})
	for name, in := range map[string][]byte{
		"truncated": lt[:700],
		"garbage":   []byte("this is not a tar archive at all, not even close....................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................."),
		"bad gzip":  append([]byte{0x1f, 0x8b, 8, 0}, bytes.Repeat([]byte{0xff}, 100)...),
	} {
		if _, err := s.Import(ctx, bytes.NewReader(in), ImportOptions{Name: "x"}); err == nil {
			t.Errorf("%s: import succeeded", name)
		}
	}
	for _, name := range []string{"UPPER:tag", "a:b:c"} {
		if _, err := s.Import(ctx, bytes.NewReader(lt), ImportOptions{Name: name}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := s.Import(ctx, bytes.NewReader(lt), ImportOptions{Changes: []string{"RUN echo"}}); err == nil || !strings.Contains(err.Error(), "RUN is not a valid change command") {
		t.Errorf("RUN change: %v", err)
	}
	// Nothing half-written: no names, no images, no layers.
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("%d images after failed imports", n)
	}
	rep, err := s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	ents, _ := os.ReadDir(filepath.Join(s.root, "layers", "tmp"))
	if len(ents) != 0 {
		t.Fatalf("leftovers in layers/tmp: %v", ents)
	}
}

func TestTagAndRmi(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	base := layerTar(t, map[string]string{"base": "b"})
	top := layerTar(t, map[string]string{"top": "tt"})
	a := mkImage(t, s, t0, "", nil, [][]byte{base}, "a:1")
	b := mkImage(t, s, t0.Add(time.Hour), "", nil, [][]byte{base, top}, "b:1")
	if err := s.Tag(ctx, "a:1", "a:2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, a.ID.Encoded()[:6], "registry.example.com:5000/ns/a:3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, "a:1", "a:b:c"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad target: %v", err)
	}
	if err := s.Tag(ctx, "nope", "x"); !errdefs.IsNotFound(err) {
		t.Fatalf("missing source: %v", err)
	}
	// An ID with several tags needs -f.
	_, err := s.Delete(ctx, a.ID.Encoded()[:12], DeleteOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "image is referenced in multiple repositories") {
		t.Fatalf("rmi id: %v", err)
	}
	items, err := s.Delete(ctx, "a:2", DeleteOptions{})
	if err != nil || len(items) != 1 || items[0].Untagged != "a:2" {
		t.Fatalf("untag: %+v %v", items, err)
	}
	items, err = s.Delete(ctx, a.ID.String(), DeleteOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []DeleteItem{{Untagged: "a:1"}, {Untagged: "registry.example.com:5000/ns/a:3"}, {Deleted: a.ID.String()}}
	if !slices.Equal(items, want) {
		t.Fatalf("rmi -f: %+v", items)
	}
	// The base layer is still used by b.
	ls, _ := s.ls.List(ctx)
	if len(ls) != 2 {
		t.Fatalf("%d layers left, want 2", len(ls))
	}
	items, err = s.Delete(ctx, "b:1", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 || items[0].Untagged != "b:1" || items[1].Deleted != b.ID.String() || !strings.HasPrefix(items[2].Deleted, "sha256:") {
		t.Fatalf("rmi b: %+v", items)
	}
	if ls, _ := s.ls.List(ctx); len(ls) != 0 {
		t.Fatalf("layers left: %+v", ls)
	}
	if _, err := s.Delete(ctx, "b:1", DeleteOptions{}); !errdefs.IsNotFound(err) || err.Error() != "No such image: b:1" {
		t.Fatalf("rmi missing: %v", err)
	}
	var n int
	s.cs.Walk(ctx, func(info any2) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left", n)
	}
}

func TestRmiParentsAndChildren(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	base := layerTar(t, map[string]string{"base": "b"})
	top := layerTar(t, map[string]string{"top": "t"})
	p := mkImage(t, s, t0, "", nil, [][]byte{base})
	c := mkImage(t, s, t0.Add(time.Minute), p.ID, nil, [][]byte{base, top}, "child:1")
	if _, err := s.Delete(ctx, p.ID.Encoded(), DeleteOptions{Force: true}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "image has dependent child images") {
		t.Fatalf("delete parent: %v", err)
	}
	// Intermediate images are hidden without -a.
	l, _ := s.List(ctx, ListOptions{})
	if len(l) != 1 || l[0].ID != c.ID {
		t.Fatalf("list: %+v", l)
	}
	if l, _ = s.List(ctx, ListOptions{All: true}); len(l) != 2 {
		t.Fatalf("list -a: %d", len(l))
	}
	items, err := s.Delete(ctx, "child:1", DeleteOptions{NoPrune: true})
	if err != nil || len(items) != 3 { // untag, delete image, delete top layer
		t.Fatalf("no-prune: %+v %v", items, err)
	}
	if _, err := s.Resolve(ctx, p.ID.String()); err != nil {
		t.Fatalf("parent pruned despite --no-prune: %v", err)
	}
	c = mkImage(t, s, t0.Add(time.Minute), p.ID, nil, [][]byte{base, top}, "child:1")
	items, err = s.Delete(ctx, "child:1", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, it := range items {
		if it.Deleted != "" {
			deleted = append(deleted, it.Deleted)
		}
	}
	if !slices.Contains(deleted, p.ID.String()) || !slices.Contains(deleted, c.ID.String()) || len(deleted) != 4 {
		t.Fatalf("prune parents: %+v", items)
	}

	// A tagged parent stops the pruning: removing a child built FROM it
	// keeps the parent and its tag (as docker does).
	p = mkImage(t, s, t0, "", nil, [][]byte{base}, "base:1")
	mkImage(t, s, t0.Add(time.Minute), p.ID, nil, [][]byte{base, top}, "child:2")
	items, err = s.Delete(ctx, "child:2", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Deleted == p.ID.String() || it.Untagged == "base:1" {
			t.Fatalf("tagged parent removed with its child: %+v", items)
		}
	}
	if _, err := s.Resolve(ctx, "base:1"); err != nil {
		t.Fatalf("tagged parent gone: %v", err)
	}
}

type fakeContainers struct {
	users map[string][]ContainerUse
	tops  []string
}

func (f fakeContainers) LayerRefs(tx *metadataTx, refs map[digestT]bool) error {
	for _, t := range f.tops {
		refs[digestT(t)] = true
	}
	return nil
}

func (f fakeContainers) ImageUsers(tx *metadataTx) (map[digestT][]ContainerUse, error) {
	out := map[digestT][]ContainerUse{}
	for k, v := range f.users {
		out[digestT(k)] = v
	}
	return out, nil
}

func TestContainerConflicts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"f": "1"})}, "x:1")
	s.SetContainers(fakeContainers{users: map[string][]ContainerUse{img.ID.String(): {{ID: "0123456789abcdef", Running: true}}}})
	_, err := s.Delete(ctx, "x:1", DeleteOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "container 0123456789ab is using its referenced image") {
		t.Fatalf("rmi used image: %v", err)
	}
	_, err = s.Delete(ctx, img.ID.String(), DeleteOptions{Force: true})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "being used by running container") {
		t.Fatalf("rmi -f running: %v", err)
	}
	rep, err := s.Prune(ctx, PruneOptions{All: true})
	if err != nil || len(rep.Items) != 0 {
		t.Fatalf("prune -a removed a used image: %+v %v", rep, err)
	}
	u, _ := s.DiskUsage(ctx)
	if u.Active != 1 || u.Reclaimable != 0 {
		t.Fatalf("df: %+v", u)
	}
}

func TestPruneAndDiskUsage(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	base := layerTar(t, map[string]string{"base": strings.Repeat("b", 1000)})
	l1 := layerTar(t, map[string]string{"one": strings.Repeat("1", 100)})
	l2 := layerTar(t, map[string]string{"two": strings.Repeat("2", 10)})
	i1 := mkImage(t, s, t0, "", map[string]string{"keep": "yes"}, [][]byte{base, l1}, "one:latest")
	i2 := mkImage(t, s, t0.Add(time.Hour), "", nil, [][]byte{base, l2}, "two:latest")
	dang := mkImage(t, s, t0.Add(2*time.Hour), "", nil, [][]byte{layerTar(t, map[string]string{"d": "ddd"})})
	u, err := s.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Size != 1000+100+10+3 {
		t.Fatalf("df size %d (shared layer counted once?)", u.Size)
	}
	if u.Reclaimable != u.Size {
		t.Fatalf("reclaimable %d", u.Reclaimable)
	}
	for _, iu := range u.Images {
		switch iu.ID {
		case i1.ID:
			if iu.SharedSize != 1000 || iu.UniqueSize != 100 {
				t.Errorf("i1 usage %+v", iu)
			}
		case i2.ID:
			if iu.SharedSize != 1000 || iu.UniqueSize != 10 {
				t.Errorf("i2 usage %+v", iu)
			}
		}
	}
	rep, err := s.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reclaimed != 3 || len(rep.Items) != 2 || rep.Items[0].Deleted != dang.ID.String() {
		t.Fatalf("prune dangling: %+v", rep)
	}
	rep, err = s.Prune(ctx, PruneOptions{All: true, Filters: Filters{NotLabels: []string{"keep=yes"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reclaimed != 10 {
		t.Fatalf("prune -a label!=keep: %+v", rep)
	}
	u, _ = s.DiskUsage(ctx)
	if u.Reclaimable != 1100 {
		t.Fatalf("reclaimable %d", u.Reclaimable)
	}
	rep, err = s.Prune(ctx, PruneOptions{All: true, Filters: Filters{Until: []string{"2023-01-01"}}})
	if err != nil || len(rep.Items) != 0 {
		t.Fatalf("prune until: %+v %v", rep, err)
	}
	rep, err = s.Prune(ctx, PruneOptions{All: true})
	if err != nil || rep.Reclaimed != u.Reclaimable {
		t.Fatalf("prune -a freed %d, df said %d (%v)", rep.Reclaimed, u.Reclaimable, err)
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	lt := func(s string) [][]byte { return [][]byte{layerTar(t, map[string]string{s: s})} }
	mkImage(t, s, t0, "", map[string]string{"a": "1"}, lt("1"), "ubuntu:14.04", "ubuntu:16.04")
	mkImage(t, s, t0.Add(time.Hour), "", map[string]string{"a": "2", "b": ""}, lt("2"), "ubuntu:18.04")
	mkImage(t, s, t0.Add(2*time.Hour), "", nil, lt("3"), "debian:12")
	mkImage(t, s, t0.Add(3*time.Hour), "", nil, lt("4"))
	names := func(f Filters) []string {
		l, err := s.List(ctx, ListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range l {
			if len(i.Names) == 0 {
				out = append(out, "<none>")
			}
			for _, n := range i.Names {
				out = append(out, Familiar(n))
			}
		}
		return out
	}
	tr, fa := true, false
	cases := []struct {
		f    Filters
		want []string
	}{
		{Filters{}, []string{"<none>", "debian:12", "ubuntu:18.04", "ubuntu:14.04", "ubuntu:16.04"}},
		{Filters{Dangling: &tr}, []string{"<none>"}},
		{Filters{Dangling: &fa}, []string{"debian:12", "ubuntu:18.04", "ubuntu:14.04", "ubuntu:16.04"}},
		{Filters{Reference: []string{"ubun*"}}, []string{"ubuntu:18.04", "ubuntu:14.04", "ubuntu:16.04"}},
		{Filters{Reference: []string{"ubunt*:14*"}}, []string{"ubuntu:14.04"}},
		{Filters{Labels: []string{"a"}}, []string{"ubuntu:18.04", "ubuntu:14.04", "ubuntu:16.04"}},
		{Filters{Labels: []string{"a=1"}}, []string{"ubuntu:14.04", "ubuntu:16.04"}},
		{Filters{Labels: []string{"b"}}, []string{"ubuntu:18.04"}},
		{Filters{Before: []string{"debian:12"}}, []string{"ubuntu:18.04", "ubuntu:14.04", "ubuntu:16.04"}},
		{Filters{Since: []string{"ubuntu:18.04"}}, []string{"<none>", "debian:12"}},
		{Filters{Until: []string{t0.Add(90 * time.Minute).Format(time.RFC3339)}}, []string{"ubuntu:18.04", "ubuntu:14.04", "ubuntu:16.04"}},
	}
	for _, c := range cases {
		if got := names(c.f); !slices.Equal(got, c.want) {
			t.Errorf("filter %+v: got %v want %v", c.f, got, c.want)
		}
	}
	if _, err := ParseFilters([]string{"bogus=1"}, "dangling"); err == nil || err.Error() != "Invalid filter 'bogus'" {
		t.Errorf("bad filter: %v", err)
	}
	if _, err := ParseFilters([]string{"dangling=maybe"}, "dangling"); err == nil {
		t.Errorf("dangling=maybe accepted")
	}
	if _, err := s.List(ctx, ListOptions{Filters: Filters{Before: []string{"nosuch"}}}); !errdefs.IsNotFound(err) {
		t.Errorf("before=nosuch: %v", err)
	}
}

func TestHistoryAndInspect(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	base := layerTar(t, map[string]string{"base": "bb"})
	top := layerTar(t, map[string]string{"top": "t"})
	p := mkImage(t, s, t0, "", nil, [][]byte{base}, "p:1")
	c := mkImage(t, s, t0.Add(time.Minute), p.ID, map[string]string{"l": "v"}, [][]byte{base, top}, "c:1")
	h, err := s.History(ctx, "c:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].ID != c.ID.String() || h[1].ID != p.ID.String() || h[0].Size != 1 || h[1].Size != 2 || !slices.Equal(h[1].Tags, []string{"p:1"}) {
		t.Fatalf("history: %+v", h)
	}
	if _, err := s.Delete(ctx, "p:1", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h, _ = s.History(ctx, "c:1")
	if h[1].ID != p.ID.String() { // still there, untagged (it has a child)
		t.Fatalf("history after untag: %+v", h)
	}
	ir, err := s.Inspect(ctx, "c:1")
	if err != nil {
		t.Fatal(err)
	}
	if ir.ID != c.ID.String() || ir.Parent != p.ID.String() || ir.Size != 3 || len(ir.RootFS.Layers) != 2 || ir.Config.Labels["l"] != "v" ||
		!slices.Equal(ir.RepoTags, []string{"c:1"}) || ir.GraphDriver.Name != "overlay2" || ir.GraphDriver.Data["LowerDir"] == "" {
		t.Fatalf("inspect: %+v", ir)
	}
}

func TestChanges(t *testing.T) {
	var c ContainerConfig
	err := ApplyChanges(&c, []string{
		"CMD echo hi", "ENTRYPOINT [\"/bin/sh\", \"-c\"]", "ENV A=1 B=\"two words\"", "ENV C $A-x",
		"EXPOSE 80 8000-8001/udp", "USER nobody", "WORKDIR /app", "WORKDIR sub", "LABEL k=v \"x y\"=z",
		"VOLUME [\"/data\", \"/logs\"]", "ONBUILD RUN echo built", "STOPSIGNAL SIGINT",
		"HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/", "SHELL [\"/bin/bash\", \"-c\"]",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Cmd, []string{"/bin/sh", "-c", "echo hi"}) || !slices.Equal(c.Entrypoint, []string{"/bin/sh", "-c"}) {
		t.Errorf("cmd/entrypoint: %q %q", c.Cmd, c.Entrypoint)
	}
	if !slices.Equal(c.Env, []string{"A=1", "B=two words", "C=1-x"}) {
		t.Errorf("env: %q", c.Env)
	}
	if len(c.ExposedPorts) != 3 || c.ExposedPorts["8001/udp"] != struct{}{} {
		t.Errorf("ports: %v", c.ExposedPorts)
	}
	if c.User != "nobody" || c.WorkingDir != "/app/sub" || c.Labels["x y"] != "z" || c.StopSignal != "SIGINT" {
		t.Errorf("config: %+v", c)
	}
	if len(c.Volumes) != 2 || !slices.Equal(c.OnBuild, []string{"RUN echo built"}) || !slices.Equal(c.Shell, []string{"/bin/bash", "-c"}) {
		t.Errorf("volumes/onbuild/shell: %+v", c)
	}
	hc := c.Healthcheck
	if hc == nil || !slices.Equal(hc.Test, []string{"CMD-SHELL", "curl -f http://localhost/"}) || hc.Interval != 5*time.Second || hc.Retries != 3 {
		t.Errorf("healthcheck: %+v", hc)
	}
	for _, bad := range []string{"RUN x", "FROM x", "EXPOSE 99999", "HEALTHCHECK --bogus=1 CMD x", "SHELL sh", "ONBUILD FROM x", "USER"} {
		var c ContainerConfig
		if err := ApplyChanges(&c, []string{bad}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	var n ContainerConfig
	ApplyChanges(&n, []string{"HEALTHCHECK NONE"})
	if !slices.Equal(n.Healthcheck.Test, []string{"NONE"}) {
		t.Errorf("healthcheck none: %+v", n.Healthcheck)
	}
}

func TestConcurrentOperations(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 6 {
		wg.Go(func() {
			// Every goroutine imports the same base layer and its own layer.
			for j := range 3 {
				name := "img" + string(rune('a'+i)) + ":" + string(rune('0'+j))
				lt := layerTar(t, map[string]string{"shared": "s", "own": name})
				if _, err := s.Import(ctx, bytes.NewReader(lt), ImportOptions{Name: name}); err != nil {
					errs <- err
					return
				}
				if err := s.Tag(ctx, name, name+"-x"); err != nil {
					errs <- err
					return
				}
				if j%2 == 0 {
					if _, err := s.Delete(ctx, name, DeleteOptions{}); err != nil {
						errs <- err
						return
					}
				}
				if _, err := s.Prune(ctx, PruneOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	if rep.Images != 18 {
		t.Fatalf("%d images, want 18", rep.Images)
	}
}

func TestCheckFindsAndRepairs(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"f": "1"})}, "x:1")
	mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"g": "2"})}, "y:1")
	// Corrupt the config blob of x.
	p, _ := s.cs.BlobPath(img.ID)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte(`{"corrupt":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A leftover of an interrupted unpack by a dead process.
	os.MkdirAll(filepath.Join(s.root, "layers", "tmp", "999999999-abc", "diff"), 0o755)
	rep, err := s.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) < 2 || !strings.Contains(strings.Join(rep.Problems, "\n"), "does not match its digest") {
		t.Fatalf("problems: %v", rep.Problems)
	}
	rep, err = s.Check(ctx, true)
	if err != nil || len(rep.Repaired) == 0 {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	rep, err = s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("after repair: %v %v", rep.Problems, err)
	}
	if _, err := s.Resolve(ctx, "x:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("broken image still named: %v", err)
	}
	if _, err := s.Resolve(ctx, "y:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "layers", "tmp", "999999999-abc")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tmp leftover not removed: %v", err)
	}
}

func TestLeaseProtectsUnreferencedLayer(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	lctx, done, err := s.db.WithLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.ls.Create(lctx, "", bytes.NewReader(layerTar(t, map[string]string{"a": "b"})), layers.TarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(ctx, PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ls.Get(ctx, l.ChainID); err != nil {
		t.Fatalf("leased layer pruned: %v", err)
	}
	done()
	rep, err := s.Prune(ctx, PruneOptions{All: true})
	if err != nil || rep.Reclaimed != 1 {
		t.Fatalf("unleased layer not pruned: %+v %v", rep, err)
	}
}

func TestImportHostileTars(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	outside := t.TempDir()
	mk := func(hdrs ...*tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range hdrs {
			if h.Typeflag == tar.TypeReg {
				h.Size = 4
			}
			tw.WriteHeader(h)
			if h.Typeflag == tar.TypeReg {
				tw.Write([]byte("evil"))
			}
		}
		tw.Close()
		return b.Bytes()
	}
	cases := map[string][]byte{
		"dotdot":        mk(&tar.Header{Name: "../../../../../../" + outside + "/x", Typeflag: tar.TypeReg, Mode: 0o644}),
		"symlink-out":   mk(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: outside}, &tar.Header{Name: "l/x", Typeflag: tar.TypeReg, Mode: 0o644}),
		"hardlink-out":  mk(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../../etc/passwd"}),
		"bad-whiteout":  mk(&tar.Header{Name: "a/.wh..", Typeflag: tar.TypeReg, Mode: 0o644}),
		"bad-whiteout2": mk(&tar.Header{Name: ".wh...", Typeflag: tar.TypeReg, Mode: 0o644}),
	}
	for name, b := range cases {
		_, err := s.Import(ctx, bytes.NewReader(b), ImportOptions{Name: "evil:" + name})
		if err == nil {
			t.Errorf("%s: hostile tar imported", name)
		}
		if _, err := s.Resolve(ctx, "evil:"+name); !errdefs.IsNotFound(err) {
			t.Errorf("%s: a name was recorded: %v", name, err)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("%s: wrote outside the layer: %v", name, ents)
		}
	}
	if rep, err := s.Check(ctx, false); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
}

// A crash between the deleting transaction and the file removal leaves only
// trash entries: no problem for check, and --repair removes the files.
func TestCrashBetweenDeleteAndEmptyTrash(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"f": "1"})}, "x:1")
	err := s.db.Update(ctx, func(tx *metadataTx) error {
		d, err := s.newDeleter(ctx, tx)
		if err != nil {
			return err
		}
		return d.delete("x:1", DeleteOptions{}) // no finish: the process "dies" here
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx, false)
	if err != nil || len(rep.Problems) != 0 || len(rep.Leftovers) == 0 {
		t.Fatalf("check after crash: %+v %v", rep, err)
	}
	if _, err := s.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	rep, _ = s.Check(ctx, false)
	if len(rep.Problems) != 0 || len(rep.Leftovers) != 0 || rep.Blobs != 0 {
		t.Fatalf("after repair: %+v", rep)
	}
	if _, err := os.Stat(s.ls.Dir(digestT(img.ChainID))); !os.IsNotExist(err) {
		t.Fatalf("layer dir left: %v", err)
	}
}

func TestHistoryMissingAndRepoDigests(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"a": "1"}), layerTar(t, map[string]string{"b": "22"})}, "app:1")
	h, err := s.History(ctx, "app:1")
	if err != nil || len(h) != 2 || h[0].ID != img.ID.String() || h[1].ID != "<missing>" || h[0].Size != 2 || h[1].Size != 1 {
		t.Fatalf("history: %+v %v", h, err)
	}
	dg := "sha256:" + strings.Repeat("ab", 32)
	if err := s.AddRepoDigest(ctx, img.ID, "app@"+dg, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRepoDigest(ctx, img.ID, "other/app@"+dg, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, "app@"+dg)
	if err != nil || got.ID != img.ID {
		t.Fatalf("resolve by repo digest: %v", err)
	}
	// Untagging the last tag of a repository also drops its digests.
	items, err := s.Delete(ctx, "app:1", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(items, []DeleteItem{{Untagged: "app:1"}, {Untagged: "app@" + dg}}) {
		t.Fatalf("rmi app:1: %+v", items)
	}
	l, _ := s.List(ctx, ListOptions{})
	if len(l) != 1 || len(l[0].Names) != 0 || !slices.Equal(l[0].RepoDigests, []string{"docker.io/other/app@" + dg}) {
		t.Fatalf("list: %+v", l)
	}
	items, err = s.Delete(ctx, "other/app@"+dg, DeleteOptions{})
	if err != nil || len(items) != 4 || items[0].Untagged != "other/app@"+dg || items[1].Deleted != img.ID.String() {
		t.Fatalf("rmi by digest: %+v %v", items, err)
	}
}

// storeJSON stores v as a blob and returns its descriptor of media type mt.
func storeJSON(t *testing.T, s *Store, mt string, v any) ocispec.Descriptor {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if _, err := content.WriteBlob(context.Background(), s.cs, bytes.NewReader(raw), d.Size, d.Digest); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestManifestBlobsInUse: the blobs an image's stored manifests name (an
// index, the manifest it names, that manifest's layers) are in use while
// the image is, though no layer record names them: check lists no
// leftover, and the deletion of another image whose layer blob one of them
// is keeps it; the deletion of the last image naming them frees them.
func TestManifestBlobsInUse(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	// b's layer is stored gzipped; a's manifest names that gzip blob too
	// (as a push names the gzip blob of an uncompressed layer).
	tarB := layerTar(t, map[string]string{"b": "2"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarB)
	zw.Close()
	g := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(gz.Bytes()), Size: int64(gz.Len())}
	if _, err := content.WriteBlob(ctx, s.cs, bytes.NewReader(gz.Bytes()), g.Size, g.Digest); err != nil {
		t.Fatal(err)
	}
	cfgB, _ := json.Marshal(Config{OS: "linux", Architecture: "amd64", RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tarB)}}})
	b, err := s.CreateFromBlobs(ctx, NewImage{Config: cfgB, Names: []string{"b:1"}}, []ocispec.Descriptor{g})
	if err != nil {
		t.Fatal(err)
	}
	a := mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"a": "1"})}, "a:1")
	m := storeJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: a.ID},
		Layers: []ocispec.Descriptor{g}})
	idx := storeJSON(t, s, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{m, {MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("another platform, not stored")}}})
	if err := s.AddRepoDigest(ctx, a.ID, "example.com/a@"+idx.Digest.String(), &idx); err != nil {
		t.Fatal(err)
	}
	clean := func(where string, blobs int) {
		t.Helper()
		rep, err := s.Check(ctx, false)
		if err != nil || len(rep.Problems) != 0 || len(rep.Leftovers) != 0 || rep.Blobs != blobs {
			t.Fatalf("%s: check: %+v %v", where, rep, err)
		}
	}
	// a: config, layer, index, manifest; b: config, layer g (a's too).
	clean("two images", 6)
	if _, err := s.Delete(ctx, "b:1", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := content.Exists(ctx, s.cs, g.Digest); !ok {
		t.Fatal("deleting b removed its layer blob, which a's manifest names")
	}
	if ok, _ := content.Exists(ctx, s.cs, b.ID); ok {
		t.Fatal("deleting b kept its config")
	}
	clean("after rmi b", 5)
	if _, err := s.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	clean("after repair", 5)
	for _, ref := range []string{"a:1", "example.com/a@" + idx.Digest.String()} {
		if _, err := s.Delete(ctx, ref, DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	clean("after rmi a", 0)
}

// TestDeadLeaseBlobsReclaimed: a blob that only the lease of a dead process
// holds (a killed load, pull or push wrote it) is removed by the next
// repair or prune, whatever its age; one an image names stays.
func TestDeadLeaseBlobsReclaimed(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"repair", "prune"} {
		t.Run(how, func(t *testing.T) {
			s := openStore(t)
			img := mkImage(t, s, t0, "", nil, [][]byte{layerTar(t, map[string]string{"f": "1"})}, "x:1")
			orphan := storeJSON(t, s, "application/json", map[string]string{"written by": "a killed process"})
			err := s.db.Update(ctx, func(tx *metadataTx) error {
				b, err := metadata.WriteBucket(tx, "leases", "dead")
				if err != nil {
					return err
				}
				b.Put([]byte("info"), fmt.Appendf(nil, `{"pid":%d,"created":"%s"}`, 1<<30, time.Now().UTC().Format(time.RFC3339)))
				rb, err := b.CreateBucketIfNotExists([]byte("res"))
				if err != nil {
					return err
				}
				for _, d := range []digest.Digest{orphan.Digest, img.ID} {
					if err := rb.Put([]byte(layers.BlobResource(d)), nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if how == "repair" {
				_, err = s.Check(ctx, true)
			} else {
				_, err = s.Prune(ctx, PruneOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			rep, err := s.Check(ctx, false)
			if err != nil || len(rep.Problems) != 0 || len(rep.Leftovers) != 0 || rep.Blobs != 2 {
				t.Fatalf("after %s: %+v %v", how, rep, err)
			}
			if ok, _ := content.Exists(ctx, s.cs, orphan.Digest); ok {
				t.Fatal("the dead lease's unreferenced blob is still stored")
			}
		})
	}
}
