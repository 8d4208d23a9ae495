package builder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/hoistproject/hoist/internal/builder/copier"
	"github.com/opencontainers/go-digest"
)

// COPY's incremental path. A COPY from the build context that misses the
// cache (a source changed, or the parent did) builds its layer from the
// layer the same COPY produced last time: the files whose content and
// metadata are unchanged are hardlinked from that (immutable) layer
// directory, only the others are copied (copier.Reuse). The previous
// layer is found through a copy index, build/copyindex/<key>, written
// after each such COPY committed its layer: the key names the COPY (the
// context directory, the instruction, the destination resolved against
// WORKDIR), the file holds the layer's chainID and the content digest of
// every regular file the copy wrote (copier.Index).
//
// Format: the line "hoist-copyindex-v1", the chainID and a newline, then
// per file: uvarint path length, the slash path relative to the layer
// directory, 32 bytes SHA-256. It is written to build/tmp/<pid>/, fsynced
// and renamed into place, so a kill leaves only what CleanupStale removes;
// an unreadable or foreign file is ignored (a cold copy). An index whose
// layer is gone is ignored as well.
const copyIndexMagic = "hoist-copyindex-v1\n"

// layerDirs is implemented by snapshotters whose layers are directories
// on the file system (snapshot.Overlay): COPY links from them.
type layerDirs interface {
	LayerDir(ctx context.Context, chainID digest.Digest) (string, error)
}

// copyIndexKey names a COPY's lineage.
func copyIndexKey(ctxDir, instr, dest string) string {
	return digest.FromString("copyindex\n" + ctxDir + "\n" + instr + "\n" + dest).Encoded()
}

func (j *job) copyIndexPath(key string) string {
	return filepath.Join(j.b.Dir, "copyindex", key)
}

// loadReuse returns the previous layer of the COPY named key with its
// index, or nil when there is none to reuse.
func (j *job) loadReuse(ctx context.Context, key string) *copier.Reuse {
	ld, ok := j.b.Snapshots.(layerDirs)
	if !ok || j.b.Dir == "" {
		return nil
	}
	chainID, idx, err := readCopyIndex(j.copyIndexPath(key))
	if err != nil {
		return nil
	}
	dir, err := ld.LayerDir(ctx, chainID)
	if err != nil {
		return nil
	}
	return &copier.Reuse{Dir: dir, Index: idx}
}

func readCopyIndex(p string) (digest.Digest, copier.Index, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", nil, err
	}
	if !bytes.HasPrefix(data, []byte(copyIndexMagic)) {
		return "", nil, errors.New("not a copy index")
	}
	data = data[len(copyIndexMagic):]
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return "", nil, errors.New("truncated copy index")
	}
	chainID, err := digest.Parse(string(data[:nl]))
	if err != nil {
		return "", nil, err
	}
	data = data[nl+1:]
	idx := copier.Index{}
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || uint64(len(data)-k) < n+32 {
			return "", nil, errors.New("truncated copy index")
		}
		data = data[k:]
		var sum [32]byte
		copy(sum[:], data[n:n+32])
		idx[string(data[:n])] = sum
		data = data[n+32:]
	}
	return chainID, idx, nil
}

// saveCopyIndex records idx as the index of the layer chainID, the
// COPY named key's latest.
func (j *job) saveCopyIndex(key string, chainID digest.Digest, idx copier.Index) error {
	if j.b.Dir == "" || len(idx) == 0 {
		return nil
	}
	final := j.copyIndexPath(key)
	tmpDir := filepath.Join(j.b.Dir, "tmp", strconv.Itoa(os.Getpid()))
	for _, d := range []string{filepath.Dir(final), tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(tmpDir, "copyindex-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := writeCopyIndex(f, chainID, idx); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), final)
}

func writeCopyIndex(w io.Writer, chainID digest.Digest, idx copier.Index) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s%s\n", copyIndexMagic, chainID)
	paths := make([]string, 0, len(idx))
	for p := range idx {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var tmp [binary.MaxVarintLen64]byte
	for _, p := range paths {
		bw.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(p)))])
		bw.WriteString(p)
		sum := idx[p]
		bw.Write(sum[:])
	}
	return bw.Flush()
}

// PruneCopyIndexes removes the copy indexes under dir (<root>/build) that
// can serve no COPY: all of them with all (builder prune -a), else those
// whose layer is gone (hasLayer false) or that cannot be read. It returns
// the bytes freed.
func PruneCopyIndexes(ctx context.Context, dir string, all bool, hasLayer func(context.Context, digest.Digest) (bool, error)) int64 {
	idxDir := filepath.Join(dir, "copyindex")
	ents, err := os.ReadDir(idxDir)
	if err != nil {
		return 0
	}
	var freed int64
	for _, e := range ents {
		p := filepath.Join(idxDir, e.Name())
		if !all {
			chainID, _, err := readCopyIndex(p)
			if err == nil {
				if ok, herr := hasLayer(ctx, chainID); herr != nil || ok {
					continue
				}
			}
		}
		if fi, err := e.Info(); err == nil && os.Remove(p) == nil {
			freed += fi.Size()
		}
	}
	return freed
}
