package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runStdin runs hoist in-process with stdin, in a fresh root.
func runStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), append([]string{"--root", t.TempDir()}, args...), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// basicRegistry is a registry with basic auth (alice/pw) serving /v2/ and
// /v1/search.
func basicRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		switch r.URL.Path {
		case "/v2/":
			w.Write([]byte("{}"))
		case "/v1/search":
			res := []map[string]any{
				{"name": "library/busybox", "description": "Busybox base image.", "star_count": 2, "is_official": true},
				{"name": "me/tools", "description": "A very long description that goes on and on beyond forty-five characters\nwith a newline", "star_count": 7, "is_automated": true},
				{"name": "me/wide", "description": "中文描述中文描述中文描述中文描述中文描述中文描述中文描述", "star_count": 0},
			}
			json.NewEncoder(w).Encode(map[string]any{"num_results": len(res), "query": r.URL.Query().Get("q"), "results": res})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func dockerConfigDir(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOIST_CONFIG", filepath.Join(dir, "hoist-config.json"))
	return dir
}

func TestLoginLogout(t *testing.T) {
	dir := dockerConfigDir(t)
	reg := basicRegistry(t)
	cfgPath := filepath.Join(dir, "config.json")

	// wrong password: docker's daemon-style error, exit 1, nothing saved
	out, errOut, code := runStdin(t, "nope\n", "login", "-u", "alice", "--password-stdin", reg)
	// docker's line (scripts match it), then hoist's word on it.
	if code != 1 || out != "" || errOut != "Error response from daemon: Get \"http://"+reg+"/v2/\": unauthorized: authentication required\nhoist: wrong username or password for "+reg+"\n" {
		t.Fatalf("wrong password: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		t.Fatal("config written after a failed login")
	}

	out, errOut, code = runStdin(t, "pw\n", "login", "-u", "alice", "--password-stdin", reg)
	if code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("login: %d %q %q", code, out, errOut)
	}
	want := "WARNING! Your password will be stored unencrypted in " + cfgPath + ".\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n"
	if errOut != want {
		t.Fatalf("warning = %q", errOut)
	}
	st, _ := os.Stat(cfgPath)
	b, _ := os.ReadFile(cfgPath)
	if st.Mode().Perm() != 0o600 || !strings.Contains(string(b), `"auth": "YWxpY2U6cHc="`) {
		t.Fatalf("config %v: %s", st.Mode(), b)
	}

	// -p works and warns
	_, errOut, code = runStdin(t, "", "login", "-u", "alice", "-p", "pw", reg)
	if code != 0 || !strings.HasPrefix(errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n") {
		t.Fatalf("-p: %d %q", code, errOut)
	}
	// no flags: the stored credentials are used
	out, _, code = runStdin(t, "", "login", reg)
	if code != 0 || out != "Authenticating with existing credentials...\nLogin Succeeded\n" {
		t.Fatalf("stored creds: %d %q", code, out)
	}

	// --config DIR: docker's global option puts the credentials there
	other := t.TempDir()
	if _, errOut, code = runStdin(t, "pw\n", "--config", other, "login", "-u", "alice", "--password-stdin", reg); code != 0 {
		t.Fatalf("--config login: %d %q", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(other, "config.json")); err != nil || !strings.Contains(string(b), `"auth": "YWxpY2U6cHc="`) {
		t.Fatalf("--config: %v %s", err, b)
	}
	if out, _, code = runStdin(t, "", "--config="+other, "logout", reg); code != 0 || out != "Removing login credentials for "+reg+"\n" {
		t.Fatalf("--config logout: %d %q", code, out)
	}
	out, _, code = runStdin(t, "", "logout", reg)
	if code != 0 || out != "Removing login credentials for "+reg+"\n" {
		t.Fatalf("logout: %d %q", code, out)
	}
	out, _, code = runStdin(t, "", "logout", reg)
	if code != 0 || out != "Not logged in to "+reg+"\n" {
		t.Fatalf("second logout: %d %q", code, out)
	}
	out, _, _ = runStdin(t, "", "logout")
	if out != "Not logged in to https://index.docker.io/v1/\n" {
		t.Fatalf("default logout: %q", out)
	}

	// no username and no TTY
	_, errOut, code = runStdin(t, "", "login", reg)
	if code != 1 || errOut != "Error: Cannot perform an interactive login from a non TTY device\n" {
		t.Fatalf("non-TTY: %d %q", code, errOut)
	}
	_, errOut, code = runStdin(t, "pw", "login", "--password-stdin", reg)
	if code != 1 || !strings.Contains(errOut, "Must provide --username with --password-stdin") {
		t.Fatalf("stdin without user: %d %q", code, errOut)
	}
	_, errOut, code = runStdin(t, "pw", "login", "-u", "a", "-p", "x", "--password-stdin", reg)
	if code != 1 || !strings.Contains(errOut, "--password and --password-stdin are mutually exclusive") {
		t.Fatalf("both: %d %q", code, errOut)
	}
}

func TestLoginWithCredsStoreHasNoWarning(t *testing.T) {
	dir := dockerConfigDir(t)
	reg := basicRegistry(t)
	bin := t.TempDir()
	store := t.TempDir()
	script := "#!/bin/sh\ncase \"$1\" in\nstore) cat > " + store + "/saved ;;\nget) echo 'credentials not found in native keychain'; exit 1 ;;\nerase) rm -f " + store + "/saved ;;\nesac\n"
	os.WriteFile(filepath.Join(bin, "docker-credential-testhelper"), []byte(script), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credsStore":"testhelper"}`), 0o600)
	out, errOut, code := runStdin(t, "pw", "login", "-u", "alice", "--password-stdin", reg)
	if code != 0 || out != "Login Succeeded\n" || errOut != "" {
		t.Fatalf("login: %d %q %q", code, out, errOut)
	}
	saved, _ := os.ReadFile(filepath.Join(store, "saved"))
	if !strings.Contains(string(saved), `"Secret":"pw"`) || !strings.Contains(string(saved), `"ServerURL":"`+reg+`"`) {
		t.Fatalf("helper got %s", saved)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(b), "cHc") {
		t.Fatalf("secret in the file: %s", b)
	}
	out, _, _ = runStdin(t, "", "logout", reg)
	if out != "Removing login credentials for "+reg+"\n" {
		t.Fatalf("logout: %q", out)
	}
	if _, err := os.Stat(filepath.Join(store, "saved")); err == nil {
		t.Fatal("helper not asked to erase")
	}
}

func TestSearch(t *testing.T) {
	dockerConfigDir(t)
	reg := basicRegistry(t)
	if _, _, code := runStdin(t, "pw", "login", "-u", "alice", "--password-stdin", reg); code != 0 {
		t.Fatal("login failed")
	}
	out, errOut, code := runStdin(t, "", "search", reg+"/x")
	want := "" +
		"NAME              DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED\n" +
		"me/tools          A very long description that goes on and on …   7                    [OK]\n" +
		"library/busybox   Busybox base image.                             2         [OK]       \n" +
		// text/tabwriter (as docker's) counts runes, not display columns
		"me/wide           中文描述中文描述中文描述中文描述中文描述中文…                         0                    \n"
	if code != 0 || out != want {
		t.Fatalf("search: %d %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	out, _, _ = runStdin(t, "", "search", "--no-trunc", "--format", "{{.Name}}: {{.Description}}", reg+"/x")
	if !strings.Contains(out, "me/tools: A very long description that goes on and on beyond forty-five characters with a newline\n") {
		t.Fatalf("--no-trunc: %q", out)
	}
	out, _, _ = runStdin(t, "", "search", "-f", "stars=1", "--filter", "is-automated=true", "--format", "{{.Name}}", reg+"/x")
	if out != "me/tools\n" {
		t.Fatalf("filters: %q", out)
	}
	out, _, _ = runStdin(t, "", "search", "--limit", "1", "--format", "json", reg+"/x")
	if out != `{"Description":"A very long description that goes on and on …","IsAutomated":"true","IsOfficial":"false","Name":"me/tools","StarCount":"7"}`+"\n" {
		t.Fatalf("json: %q", out)
	}
	_, errOut, code = runStdin(t, "", "search", "--limit", "0", reg+"/x")
	if code != 1 || errOut != "Error response from daemon: limit 0 is outside the range of [1, 100]\n" {
		t.Fatalf("limit 0: %d %q", code, errOut)
	}
	_, errOut, code = runStdin(t, "", "search", "-f", "bogus=1", reg+"/x")
	if code != 1 || errOut != "Error response from daemon: invalid filter 'bogus'\n" {
		t.Fatalf("bad filter: %d %q", code, errOut)
	}
	runStdin(t, "", "logout", reg)
	_, errOut, code = runStdin(t, "", "search", reg+"/x")
	if code != 1 || !strings.Contains(errOut, "unauthorized: authentication required") {
		t.Fatalf("anonymous search: %d %q", code, errOut)
	}
}

func TestEllipsis(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 45, "short"}, {"abcdef", 4, "abc…"}, {"abcd", 4, "abcd"}, {"中文中文", 5, "中文…"}, {"中文中文", 8, "中文中文"}, {"a中文", 4, "a中…"}, {"x", 1, "x"},
	} {
		if got := ellipsis(c.in, c.n); got != c.want {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
