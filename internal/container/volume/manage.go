package volume

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
)

// Volume describes a local volume and the containers that use it.
type Volume struct {
	Name       string
	Mountpoint string // its data directory
	CreatedAt  time.Time
	UsedBy     []string          // IDs of the containers whose records name it
	Labels     map[string]string // volume create --label (nil: none)
}

// Size is the bytes the volume holds.
func (v Volume) Size() int64 { return fsutil.DirSize(v.Mountpoint) }

// Users maps volume names to the IDs of the containers that use them (the
// container records know; see container.Manager.Volumes).
type Users map[string][]string

// Create creates the volume name (a random name from newName when empty)
// with labels and returns its name; creating an existing volume is a
// no-op (its labels stay; created is false), as in docker.
func (s Store) Create(name string, labels map[string]string, newName func() string) (_ string, created bool, _ error) {
	if name == "" {
		name = newName()
	}
	if err := CheckName(name); err != nil {
		return "", false, err
	}
	_, created, err := s.Path(name)
	if err != nil {
		return "", false, err
	}
	if !created {
		return name, false, nil
	}
	if len(labels) > 0 {
		b, err := json.Marshal(labels)
		if err == nil {
			err = fsutil.WriteFileAtomic(filepath.Join(s.Dir, name, labelsFile), 0o600, func(w io.Writer) error { _, err := w.Write(b); return err })
		}
		if err != nil {
			s.Remove(name)
			return "", false, fmt.Errorf("create %s: labels: %w", name, err)
		}
	}
	return name, true, nil
}

// labelsFile holds a volume's labels (JSON), beside its data directory.
const labelsFile = "labels.json"

// Get describes volume name; an unknown one is errdefs.NotFound.
func (s Store) Get(name string, users Users) (Volume, error) {
	if CheckName(name) == nil {
		if fi, err := os.Stat(filepath.Join(s.Dir, name)); err == nil && fi.IsDir() {
			v := Volume{Name: name, Mountpoint: s.DataDir(name), CreatedAt: fi.ModTime(), UsedBy: users[name]}
			if b, err := os.ReadFile(filepath.Join(s.Dir, name, labelsFile)); err == nil {
				json.Unmarshal(b, &v.Labels)
			}
			return v, nil
		}
	}
	return Volume{}, errdefs.NotFoundf("get %s: no such volume", name)
}

// List describes every volume, by name.
func (s Store) List(users Users) []Volume {
	var out []Volume
	for _, name := range s.Names() {
		if v, err := s.Get(name, users); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Delete removes volume name, which no container may use (not even a
// stopped one); with force an unknown volume is no error.
func (s Store) Delete(name string, force bool, users Users) error {
	v, err := s.Get(name, users)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if len(v.UsedBy) > 0 {
		return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(v.UsedBy, ", "))
	}
	s.Remove(name)
	return nil
}

// Prune removes every volume no container uses and returns their names and
// the bytes they held.
func (s Store) Prune(users Users) ([]string, int64) {
	var removed []string
	var reclaimed int64
	for _, v := range s.List(users) {
		if len(v.UsedBy) > 0 {
			continue
		}
		n := v.Size()
		s.Remove(v.Name)
		removed = append(removed, v.Name)
		reclaimed += n
	}
	return removed, reclaimed
}
