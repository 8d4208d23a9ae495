package names

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Valid reports whether name is a valid container (or volume) name:
// docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+.
func Valid(name string) bool {
	if len(name) < 2 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// Store is the directory of name reservations (<root>/container-names).
type Store struct{ Dir string }

// Reserve records name -> id, failing like docker if it is taken.
func (s Store) Reserve(name, id string) error {
	if !Valid(name) {
		return errdefs.InvalidArgumentf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if os.IsExist(err) {
			other, _ := os.ReadFile(filepath.Join(s.Dir, name))
			return errdefs.Conflictf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, strings.TrimSpace(string(other)))
		}
		return fmt.Errorf("reserve name %s: %w", name, err)
	}
	defer f.Close()
	if _, err := f.WriteString(id); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Release removes the reservation of name if it is id's.
func (s Store) Release(name, id string) {
	p := filepath.Join(s.Dir, name)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == id {
		os.Remove(p)
	}
}

// Lookup returns the ID name is reserved for.
func (s Store) Lookup(name string) (string, bool) {
	if !Valid(name) {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}
