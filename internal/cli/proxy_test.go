package cli

import (
	"archive/tar"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// forwardProxy is an HTTP forward proxy on 127.0.0.1 that sends every
// request (plain, or CONNECT tunnels) for the made-up registry name to the
// real registry's address, and records what it was asked.
type forwardProxy struct {
	name, backend string
	mu            sync.Mutex
	seen          []string
}

func (p *forwardProxy) record(s string) {
	p.mu.Lock()
	p.seen = append(p.seen, s)
	p.mu.Unlock()
}

func (p *forwardProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	if r.Method == http.MethodConnect {
		target = r.RequestURI
	}
	p.record(r.Method + " " + target + " " + r.URL.Path)
	if target != p.name {
		http.Error(w, "this test proxy only knows "+p.name, http.StatusBadGateway)
		return
	}
	if r.Method == http.MethodConnect {
		up, err := net.Dial("tcp", p.backend)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, buf); up.(*net.TCPConn).CloseWrite() }()
		io.Copy(conn, up)
		conn.Close()
		up.Close()
		return
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host = "http", p.backend
	}}
	rp.ServeHTTP(w, r)
}

// TestPullThroughProxyFromEnvironment: HTTP_PROXY/HTTPS_PROXY route the
// binary's registry traffic through a forward proxy (a registry name that
// only the proxy can reach proves it), and NO_PROXY bypasses the proxy.
func TestPullThroughProxyFromEnvironment(t *testing.T) {
	bin := hoistBinary(t)
	backend := testRegistry(t)
	const regName = "registry.test:5000"
	proxy := &forwardProxy{name: regName, backend: backend}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"insecure-registries": ["`+regName+`"]}`), 0o644)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "proxied", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi\n"))
	tw.Close()
	tarPath := filepath.Join(dir, "layer.tar")
	os.WriteFile(tarPath, b.Bytes(), 0o644)

	hoist := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOIST_CONFIG="+cfg, "DOCKER_CONFIG="+filepath.Join(dir, "docker"),
			"HTTP_PROXY=", "HTTPS_PROXY=", "NO_PROXY=", "http_proxy=", "https_proxy=", "no_proxy=")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	src := filepath.Join(dir, "src")
	if out, err := hoist(nil, "--root", src, "import", tarPath, backend+"/team/app:v1"); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	// loopback registries never go through a proxy (as with docker)
	proxyURL := "http://" + strings.TrimPrefix(ps.URL, "http://")
	if out, err := hoist([]string{"HTTP_PROXY=" + proxyURL, "HTTPS_PROXY=" + proxyURL}, "--root", src, "push", backend+"/team/app:v1"); err != nil {
		t.Fatalf("push: %v %s", err, out)
	}
	if seen := proxy.requests(); len(seen) != 0 {
		t.Fatalf("a loopback registry went through the proxy: %v", seen)
	}

	out, err := hoist([]string{"HTTP_PROXY=" + proxyURL, "HTTPS_PROXY=" + proxyURL}, "--root", filepath.Join(dir, "dst"), "pull", regName+"/team/app:v1")
	if err != nil || !strings.Contains(out, "Status: Downloaded newer image for "+regName+"/team/app:v1") {
		t.Fatalf("pull through the proxy: %v\n%s", err, out)
	}
	seen := strings.Join(proxy.requests(), "\n")
	for _, want := range []string{"HEAD " + regName + " /v2/team/app/manifests/v1", "GET " + regName + " /v2/team/app/blobs/sha256:"} {
		if !strings.Contains(seen, want) {
			t.Fatalf("the proxy did not see %q; it saw:\n%s", want, seen)
		}
	}

	// lower-case variables, and NO_PROXY naming the registry: straight to
	// registry.test, which does not resolve
	before := len(proxy.requests())
	out, err = hoist([]string{"http_proxy=" + proxyURL, "https_proxy=" + proxyURL, "NO_PROXY=.test"}, "--root", filepath.Join(dir, "dst2"), "pull", regName+"/team/app:v1")
	if err == nil {
		t.Fatalf("pull with NO_PROXY reached registry.test: %s", out)
	}
	if seen := proxy.requests(); len(seen) != before {
		t.Fatalf("NO_PROXY did not bypass the proxy: %v\n%s", seen[before:], out)
	}
}
