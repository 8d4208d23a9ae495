package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The fakes below stand in for the image store, the layer store and the
// container runtime so the builder's own logic (cache, DAG, ARG scoping,
// config and history) is tested without root. They are deliberately simple:
// a "layer" is a full copy of the tree.

type fakeWorld struct {
	t        *testing.T
	dir      string
	mu       sync.Mutex
	images   map[string]BaseImage // by tag and by ID
	layers   map[digest.Digest]string
	runs     []RunRequest
	nsnap    int
	prepared int // Prepare calls
	active   int // snapshots not released
}

func newFakeWorld(t *testing.T) *fakeWorld {
	return &fakeWorld{t: t, dir: t.TempDir(), images: map[string]BaseImage{}, layers: map[digest.Digest]string{}}
}

func (w *fakeWorld) builder() *Builder {
	return &Builder{Images: w, Snapshots: w, Runner: w, Writer: w, Cache: cache.NewMemory(), Dir: filepath.Join(w.dir, "build")}
}

// addBase registers an image named ref whose rootfs is files (path -> content).
func (w *fakeWorld) addBase(ref string, cfg *Config, files map[string]string) BaseImage {
	w.t.Helper()
	return w.addBaseLocked(ref, cfg, files)
}

func (w *fakeWorld) addBaseLocked(ref string, cfg *Config, files map[string]string) BaseImage {
	chain := digest.Digest("")
	if files != nil {
		dir := filepath.Join(w.dir, "base-"+strings.ReplaceAll(ref, "/", "_"))
		for p, c := range files {
			full := filepath.Join(dir, p)
			if strings.HasSuffix(p, "/") {
				os.MkdirAll(full, 0o755)
				continue
			}
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				w.t.Fatal(err)
			}
		}
		d := treeDigest(dir)
		chain = d
		w.layers[chain] = dir
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d)
	}
	cfg.RootFS.Type = "layers"
	b := configBytes(cfg)
	img := BaseImage{ID: digest.FromBytes(b), Config: b, ChainID: chain}
	w.images[ref] = img
	w.images[img.ID.String()] = img
	return img
}

func (w *fakeWorld) Resolve(_ context.Context, ref string) (BaseImage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if img, ok := w.images[ref]; ok {
		return img, nil
	}
	return BaseImage{}, errdefs.NotFoundf("No such image: %s", ref)
}

func (w *fakeWorld) WriteImage(_ context.Context, img NewImage) (digest.Digest, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := digest.FromBytes(img.Config)
	bi := BaseImage{ID: id, Config: img.Config, ChainID: img.ChainID}
	w.images[id.String()] = bi
	for _, t := range img.Tags {
		w.images[t] = bi
	}
	return id, nil
}

type fakeSnap struct {
	w      *fakeWorld
	parent digest.Digest
	dir    string
	done   bool
}

func (w *fakeWorld) Prepare(_ context.Context, parent digest.Digest) (Snapshot, error) {
	w.mu.Lock()
	w.nsnap++
	w.prepared++
	w.active++
	dir := filepath.Join(w.dir, "snap", strconv.Itoa(w.nsnap))
	src := w.layers[parent]
	w.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if src != "" {
		if err := copyDirFake(src, dir); err != nil {
			return nil, err
		}
	}
	return &fakeSnap{w: w, parent: parent, dir: dir}, nil
}

func (w *fakeWorld) View(_ context.Context, chainID digest.Digest) (string, func() error, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if chainID == "" {
		d := filepath.Join(w.dir, "empty")
		os.MkdirAll(d, 0o755)
		return d, func() error { return nil }, nil
	}
	d, ok := w.layers[chainID]
	if !ok {
		return "", nil, errdefs.NotFoundf("layer %s", chainID)
	}
	return d, func() error { return nil }, nil
}

func (s *fakeSnap) Root() string { return s.dir }

func (s *fakeSnap) Upper() string { return "" }

func (s *fakeSnap) Commit(context.Context, CommitOptions) (Layer, bool, error) {
	s.done = true
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.active--
	d := treeDigest(s.dir)
	if prev, ok := s.w.layers[s.parent]; ok && treeDigest(prev) == d {
		return Layer{}, true, nil
	}
	if s.parent == "" && d == treeDigest(filepath.Join(s.w.dir, "nonexistent")) {
		return Layer{}, true, nil
	}
	chain := digest.FromString(s.parent.String() + " " + d.String())
	s.w.layers[chain] = s.dir
	return Layer{DiffID: d, ChainID: chain}, false, nil
}

func (s *fakeSnap) Release(context.Context) error {
	if s.done {
		return nil
	}
	s.done = true
	s.w.mu.Lock()
	s.w.active--
	s.w.mu.Unlock()
	return os.RemoveAll(s.dir)
}

// Run understands a few shell commands, enough for the cache and DAG tests:
// "echo WORDS", "echo WORDS > /file", "env", "exit N", "fail", joined by " && ".
func (w *fakeWorld) Run(_ context.Context, req RunRequest) (int, error) {
	w.mu.Lock()
	w.runs = append(w.runs, req)
	w.mu.Unlock()
	script := req.Args[len(req.Args)-1]
	for _, cmd := range strings.Split(script, "&&") {
		cmd = strings.TrimSpace(cmd)
		switch {
		case strings.HasPrefix(cmd, "exit "):
			n, _ := strconv.Atoi(strings.TrimPrefix(cmd, "exit "))
			fmt.Fprintf(req.Stderr, "exiting with %d\n", n)
			return n, nil
		case cmd == "env":
			for _, e := range req.Env {
				fmt.Fprintln(req.Stdout, e)
			}
		case strings.HasPrefix(cmd, "echo "):
			text, file, redirect := strings.Cut(strings.TrimPrefix(cmd, "echo "), ">")
			text = strings.TrimSpace(text)
			if !redirect {
				fmt.Fprintln(req.Stdout, text)
				continue
			}
			p := filepath.Join(req.Rootfs, strings.TrimSpace(file))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(text+"\n"), 0o644); err != nil {
				return 1, nil
			}
		default:
			fmt.Fprintf(req.Stderr, "fake runner: unknown command %q\n", cmd)
			return 127, nil
		}
	}
	return 0, nil
}

func (w *fakeWorld) runCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.runs)
}

// treeDigest hashes a tree (paths, modes, owners, contents, link targets).
func treeDigest(dir string) digest.Digest {
	h := sha256.New()
	var paths []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		rel, _ := filepath.Rel(dir, p)
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(h, "%s %o %d %d\n", rel, fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			h.Write(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			io.WriteString(h, t)
		}
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
}

func copyDirFake(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(target, fi.Mode().Perm()); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			if err := os.Symlink(t, target); err != nil {
				return err
			}
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, fi.Mode().Perm()); err != nil {
				return err
			}
		}
		os.Lchown(target, int(st.Uid), int(st.Gid))
		if fi.Mode()&fs.ModeSymlink == 0 {
			os.Chmod(target, fi.Mode().Perm())
		}
		return nil
	})
}

func historyEntry(createdBy string) ocispec.History {
	return ocispec.History{CreatedBy: createdBy}
}
