package credentials

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestServerKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                            IndexServer,
		"docker.io":                   IndexServer,
		"index.docker.io":             IndexServer,
		"https://index.docker.io/v1/": IndexServer,
		"registry-1.docker.io":        IndexServer,
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"https://myreg.example:443/":  "myreg.example:443",
		"http://localhost:5000":       "localhost:5000",
	} {
		if got := ServerKey(in); got != want {
			t.Errorf("ServerKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileRoundTripPreservesUnknownFields(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	orig := `{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw","email":"me@x"},"http://old.example:5000":{"auth":"b2xkOnB3"}},"psFormat":"table {{.ID}}","proxies":{"default":{"httpProxy":"http://p:3128"}}}`
	if err := os.WriteFile(p, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := f.Get(ctx, "docker.io")
	if err != nil || ac.Username != "u" || ac.Password != "p" {
		t.Fatalf("Get(docker.io) = %+v, %v", ac, err)
	}
	// a key written with a scheme is found by host
	ac, err = f.Get(ctx, "old.example:5000")
	if err != nil || ac.Username != "old" || ac.Password != "pw" {
		t.Fatalf("Get(old.example:5000) = %+v, %v", ac, err)
	}
	if _, err := f.Get(ctx, "nowhere:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("missing creds: %v", err)
	}
	if h, err := f.Store(ctx, AuthConfig{ServerAddress: "127.0.0.1:5000", Username: "alice", Password: "s3cr:et"}); err != nil || h != "" {
		t.Fatalf("Store: %q %v", h, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after save: %v %v", st.Mode(), err)
	}
	var got map[string]any
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["psFormat"] != "table {{.ID}}" || got["proxies"] == nil {
		t.Fatalf("unknown fields lost: %s", b)
	}
	auths := got["auths"].(map[string]any)
	if e := auths["127.0.0.1:5000"].(map[string]any); e["auth"] != "YWxpY2U6czNjcjpldA==" {
		t.Fatalf("stored entry %v", e)
	}
	if e := auths[IndexServer].(map[string]any); e["email"] != "me@x" {
		t.Fatalf("unknown entry field lost: %v", e)
	}
	f2, _ := Load(p)
	ac, err = f2.Get(ctx, "http://127.0.0.1:5000/")
	if err != nil || ac.Username != "alice" || ac.Password != "s3cr:et" {
		t.Fatalf("reloaded: %+v %v", ac, err)
	}
	found, err := f2.Erase(ctx, "127.0.0.1:5000")
	if err != nil || !found {
		t.Fatalf("Erase: %v %v", found, err)
	}
	if found, _ := f2.Erase(ctx, "127.0.0.1:5000"); found {
		t.Fatal("second erase found an entry")
	}
	f3, _ := Load(p)
	if f3.Has("127.0.0.1:5000") || !f3.Has("docker.io") {
		t.Fatal("erase removed the wrong entries")
	}
	// no temp files left behind
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
}

func TestMissingFileAndSymlink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	os.WriteFile(real, []byte(`{}`), 0o600)
	link := filepath.Join(dir, "sub", "config.json")
	os.MkdirAll(filepath.Dir(link), 0o700)
	os.Symlink(real, link)
	f, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store(ctx, AuthConfig{ServerAddress: "r:1", Username: "a", Password: "b"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced by a file")
	}
	b, _ := os.ReadFile(real)
	if !strings.Contains(string(b), `"r:1"`) {
		t.Fatalf("target not written: %s", b)
	}
	f, err = Load(filepath.Join(dir, "none", "config.json"))
	if err != nil || f.Has("x") {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(real, []byte(`{"auths": 3}`), 0o600)
	if _, err := Load(real); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), real) {
		t.Fatalf("corrupt config: %v", err)
	}
}

// fakeHelper installs docker-credential-fake in a temp PATH; it keeps secrets
// as files under a temp dir and follows the helper protocol.
func fakeHelper(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	store := t.TempDir()
	script := `#!/bin/sh
store=` + store + `
case "$1" in
get)
  read -r url
  f="$store/$(printf %s "$url" | md5sum | cut -c1-32)"
  if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
  in=$(cat)
  url=$(printf %s "$in" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
  printf %s "$in" > "$store/$(printf %s "$url" | md5sum | cut -c1-32)" ;;
erase)
  read -r url
  f="$store/$(printf %s "$url" | md5sum | cut -c1-32)"
  if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action"; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return store
}

func TestCredsStoreHelper(t *testing.T) {
	ctx := context.Background()
	store := fakeHelper(t)
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"credsStore":"fake"}`), 0o600)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, "127.0.0.1:5000"); !errdefs.IsNotFound(err) {
		t.Fatalf("get before store: %v", err)
	}
	h, err := f.Store(ctx, AuthConfig{ServerAddress: "docker.io", Username: "bob", Password: "pw"})
	if err != nil || h != "fake" {
		t.Fatalf("Store: %q %v", h, err)
	}
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), "pw") || strings.Contains(string(b), "Ym9i") {
		t.Fatalf("secret leaked into the file: %s", b)
	}
	var cfg struct {
		Auths map[string]map[string]any `json:"auths"`
	}
	json.Unmarshal(b, &cfg)
	if _, ok := cfg.Auths[IndexServer]; !ok {
		t.Fatalf("no empty auths entry for the helper: %s", b)
	}
	ents, _ := os.ReadDir(store)
	if len(ents) != 1 {
		t.Fatalf("helper store has %d entries", len(ents))
	}
	f, _ = Load(p)
	ac, err := f.Get(ctx, "index.docker.io")
	if err != nil || ac.Username != "bob" || ac.Password != "pw" {
		t.Fatalf("Get via helper: %+v %v", ac, err)
	}
	found, err := f.Erase(ctx, "docker.io")
	if err != nil || !found {
		t.Fatalf("Erase: %v %v", found, err)
	}
	if ents, _ := os.ReadDir(store); len(ents) != 0 {
		t.Fatal("helper still holds the secret")
	}
}

func TestCredHelperPerRegistryAndIdentityToken(t *testing.T) {
	ctx := context.Background()
	fakeHelper(t)
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"credHelpers":{"reg.example:5000":"fake"},"auths":{}}`), 0o600)
	f, _ := Load(p)
	if f.HelperFor("reg.example:5000") != "fake" || f.HelperFor("other:1") != "" {
		t.Fatal("HelperFor")
	}
	if _, err := f.Store(ctx, AuthConfig{ServerAddress: "reg.example:5000", IdentityToken: "refresh-me"}); err != nil {
		t.Fatal(err)
	}
	ac, err := f.Get(ctx, "reg.example:5000")
	if err != nil || ac.IdentityToken != "refresh-me" || ac.Username != "" {
		t.Fatalf("identity token via helper: %+v %v", ac, err)
	}
	// other registries use the file
	if h, err := f.Store(ctx, AuthConfig{ServerAddress: "other:1", Username: "u", IdentityToken: "tok"}); err != nil || h != "" {
		t.Fatal(err)
	}
	f, _ = Load(p)
	ac, err = f.Get(ctx, "other:1")
	if err != nil || ac.IdentityToken != "tok" || ac.Username != "u" {
		t.Fatalf("identity token in file: %+v %v", ac, err)
	}
}

func TestMissingHelperIsClear(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"credsStore":"nosuch"}`), 0o600)
	f, _ := Load(p)
	_, err := f.Get(context.Background(), "r:1")
	if err == nil || !strings.Contains(err.Error(), "docker-credential-nosuch") {
		t.Fatalf("err = %v", err)
	}
}
