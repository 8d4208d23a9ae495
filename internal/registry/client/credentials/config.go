package credentials

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
)

// IndexServer is the key docker uses for Docker Hub credentials.
const IndexServer = "https://index.docker.io/v1/"

// AuthConfig is one registry's credentials.
type AuthConfig struct {
	ServerAddress string
	Username      string
	Password      string
	// IdentityToken is an OAuth2 refresh token (exchanged for access tokens).
	IdentityToken string
	// RegistryToken is a bearer token sent to the registry as-is.
	RegistryToken string
}

// Empty reports whether ac carries no secret at all.
func (ac AuthConfig) Empty() bool {
	return ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" && ac.RegistryToken == ""
}

// DefaultPath is $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DefaultPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".docker", "config.json")
}

// Hostname strips a scheme and a path from a server address:
// "https://host:5000/v1/" → "host:5000".
func Hostname(server string) string {
	s := server
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

// IsDockerHub reports whether server names Docker Hub.
func IsDockerHub(server string) bool {
	switch Hostname(server) {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return true
	}
	return server == ""
}

// ServerKey is the key under which docker stores credentials for server:
// IndexServer for Docker Hub, else host[:port].
func ServerKey(server string) string {
	if IsDockerHub(server) {
		return IndexServer
	}
	return Hostname(server)
}

// File is a loaded docker config file.
type File struct {
	path        string
	other       map[string]json.RawMessage
	auths       map[string]map[string]json.RawMessage
	CredsStore  string
	CredHelpers map[string]string
	// HelperPrefix names helper programs; "docker-credential-" unless set.
	HelperPrefix string
}

// Load reads the config file at path; a missing file is an empty config.
func Load(path string) (*File, error) {
	f := &File{path: path, other: map[string]json.RawMessage{}, auths: map[string]map[string]json.RawMessage{}, CredHelpers: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading docker config %s: %w", path, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(b, &f.other); err != nil {
		return nil, errdefs.InvalidArgumentf("docker config %s: %v", path, err)
	}
	if raw, ok := f.other["auths"]; ok {
		if err := json.Unmarshal(raw, &f.auths); err != nil {
			return nil, errdefs.InvalidArgumentf("docker config %s: field auths: %v", path, err)
		}
		if f.auths == nil {
			f.auths = map[string]map[string]json.RawMessage{}
		}
	}
	if raw, ok := f.other["credsStore"]; ok {
		if err := json.Unmarshal(raw, &f.CredsStore); err != nil {
			return nil, errdefs.InvalidArgumentf("docker config %s: field credsStore: %v", path, err)
		}
	}
	if raw, ok := f.other["credHelpers"]; ok {
		if err := json.Unmarshal(raw, &f.CredHelpers); err != nil {
			return nil, errdefs.InvalidArgumentf("docker config %s: field credHelpers: %v", path, err)
		}
		if f.CredHelpers == nil {
			f.CredHelpers = map[string]string{}
		}
	}
	return f, nil
}

// Path is the file this config was loaded from and is saved to.
func (f *File) Path() string { return f.path }

// HelperFor is the credential helper used for server ("" : the file itself).
func (f *File) HelperFor(server string) string {
	if h, ok := f.CredHelpers[Hostname(server)]; ok && h != "" {
		return h
	}
	if h, ok := f.CredHelpers[ServerKey(server)]; ok && h != "" {
		return h
	}
	return f.CredsStore
}

func (f *File) helper(name string) Helper {
	p := f.HelperPrefix
	if p == "" {
		p = "docker-credential-"
	}
	return Helper{Program: p + name}
}

// findKey finds the auths key for server: the exact key, else any key whose
// hostname matches (docker accepts "https://host/", "http://host", "host").
func (f *File) findKey(server string) (string, bool) {
	key := ServerKey(server)
	if _, ok := f.auths[key]; ok {
		return key, true
	}
	keys := make([]string, 0, len(f.auths))
	for k := range f.auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ServerKey(k) == key {
			return k, true
		}
	}
	return "", false
}

// Has reports whether the file has an auths entry for server (docker's test
// for "logged in", whichever store holds the secret).
func (f *File) Has(server string) bool {
	_, ok := f.findKey(server)
	return ok
}

// Get returns the credentials for server. No credentials is an
// errdefs.ErrNotFound error.
func (f *File) Get(ctx context.Context, server string) (AuthConfig, error) {
	key := ServerKey(server)
	if h := f.HelperFor(server); h != "" {
		user, secret, err := f.helper(h).Get(ctx, key)
		if err != nil {
			return AuthConfig{}, err
		}
		ac := AuthConfig{ServerAddress: key, Username: user, Password: secret}
		if user == "<token>" {
			ac = AuthConfig{ServerAddress: key, IdentityToken: secret}
		}
		return ac, nil
	}
	k, ok := f.findKey(server)
	if !ok {
		return AuthConfig{}, errdefs.NotFoundf("no credentials for %s in %s", key, f.path)
	}
	ac, err := decodeEntry(f.auths[k])
	if err != nil {
		return AuthConfig{}, errdefs.InvalidArgumentf("docker config %s: auths[%q]: %v", f.path, k, err)
	}
	ac.ServerAddress = key
	if ac.Empty() {
		return AuthConfig{}, errdefs.NotFoundf("no credentials for %s in %s", key, f.path)
	}
	return ac, nil
}

func decodeEntry(e map[string]json.RawMessage) (AuthConfig, error) {
	var ac AuthConfig
	str := func(k string) (string, error) {
		raw, ok := e[k]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("field %s: %v", k, err)
		}
		return s, nil
	}
	var err error
	if ac.Username, err = str("username"); err != nil {
		return ac, err
	}
	if ac.Password, err = str("password"); err != nil {
		return ac, err
	}
	if ac.IdentityToken, err = str("identitytoken"); err != nil {
		return ac, err
	}
	if ac.RegistryToken, err = str("registrytoken"); err != nil {
		return ac, err
	}
	a, err := str("auth")
	if err != nil {
		return ac, err
	}
	if a != "" {
		dec, err := base64.StdEncoding.DecodeString(a)
		if err != nil {
			return ac, fmt.Errorf("field auth: invalid base64: %v", err)
		}
		u, p, ok := strings.Cut(string(dec), ":")
		if !ok {
			return ac, errors.New("field auth: not base64(user:password)")
		}
		ac.Username, ac.Password = u, p
	}
	return ac, nil
}

// Store saves ac under its ServerAddress, in the helper if one is configured
// (the file then keeps an empty entry), else base64-encoded in the file. It
// rewrites the file. It returns the helper name used, "" for the file.
func (f *File) Store(ctx context.Context, ac AuthConfig) (string, error) {
	key := ServerKey(ac.ServerAddress)
	h := f.HelperFor(ac.ServerAddress)
	entry := map[string]json.RawMessage{}
	if old, ok := f.findKey(key); ok {
		for k, v := range f.auths[old] {
			entry[k] = v
		}
		delete(f.auths, old)
	}
	for _, k := range []string{"auth", "username", "password", "identitytoken", "registrytoken"} {
		delete(entry, k)
	}
	if h != "" {
		user, secret := ac.Username, ac.Password
		if ac.IdentityToken != "" {
			user, secret = "<token>", ac.IdentityToken
		}
		if err := f.helper(h).Store(ctx, key, user, secret); err != nil {
			return h, err
		}
	} else {
		if ac.Username != "" || ac.Password != "" {
			entry["auth"] = jsonString(base64.StdEncoding.EncodeToString([]byte(ac.Username + ":" + ac.Password)))
		}
		if ac.IdentityToken != "" {
			if ac.Password == "" {
				entry["auth"] = jsonString(base64.StdEncoding.EncodeToString([]byte(ac.Username + ":")))
			}
			entry["identitytoken"] = jsonString(ac.IdentityToken)
		}
		if ac.RegistryToken != "" {
			entry["registrytoken"] = jsonString(ac.RegistryToken)
		}
	}
	f.auths[key] = entry
	return h, f.Save()
}

// Erase removes server's credentials (from its helper and from the file) and
// rewrites the file. It reports whether the file had an entry for server.
func (f *File) Erase(ctx context.Context, server string) (bool, error) {
	found := false
	for {
		k, ok := f.findKey(server)
		if !ok {
			break
		}
		found = true
		delete(f.auths, k)
	}
	var herr error
	if h := f.HelperFor(server); h != "" {
		if err := f.helper(h).Erase(ctx, ServerKey(server)); err != nil && !errdefs.IsNotFound(err) {
			herr = err
		}
	}
	if err := f.Save(); err != nil {
		return found, err
	}
	return found, herr
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// Save writes the file atomically with mode 0600, keeping unknown fields.
// A symlinked config file is written through to its target.
func (f *File) Save() error {
	out := make(map[string]any, len(f.other)+3)
	for k, v := range f.other {
		out[k] = v
	}
	out["auths"] = f.auths
	if f.CredsStore != "" {
		out["credsStore"] = f.CredsStore
	} else {
		delete(out, "credsStore")
	}
	if len(f.CredHelpers) > 0 {
		out["credHelpers"] = f.CredHelpers
	} else {
		delete(out, "credHelpers")
	}
	b, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	target := f.path
	if real, err := filepath.EvalSymlinks(target); err == nil {
		target = real
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving docker config: %w", err)
	}
	err = fsutil.WriteFileAtomic(target, 0o600, func(w io.Writer) error { _, err := w.Write(b); return err })
	if err != nil {
		return fmt.Errorf("saving docker config %s: %w", target, err)
	}
	return nil
}
