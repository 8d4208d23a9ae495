package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/testutil"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cfg.json")
	os.WriteFile(file, []byte(`{"addr":"127.0.0.1:6000","realm":"from file","gc_interval":"2h","read_only":true,
		"access":[{"repository":"p/**","read":["a"]}]}`), 0o600)
	cfg := DefaultConfig()
	if err := cfg.LoadConfigFile(file); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOIST_REGISTRY_REALM": "from env", "HOIST_REGISTRY_UPLOAD_MAX_AGE": "5m"}
	if err := cfg.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Set("read-only", "false"); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:6000" || cfg.Realm != "from env" || time.Duration(cfg.GCInterval) != 2*time.Hour ||
		time.Duration(cfg.UploadMaxAge) != 5*time.Minute || cfg.ReadOnly || len(cfg.Access) != 1 || !cfg.AccessLog {
		t.Fatalf("config: %+v", cfg)
	}
	if err := cfg.Set("nope", "1"); err == nil {
		t.Fatal("unknown key accepted")
	}
	if err := cfg.Set("read_only", "maybe"); err == nil {
		t.Fatal("bad bool accepted")
	}
	os.WriteFile(file, []byte(`{"bogus":1}`), 0o600)
	if err := cfg.LoadConfigFile(file); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown field: %v", err)
	}
	env = map[string]string{"HOIST_REGISTRY_GC_GRACE": "soon"}
	if err := cfg.ApplyEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "HOIST_REGISTRY_GC_GRACE") {
		t.Fatalf("bad env: %v", err)
	}
}

type syncBuf struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// TestServeGracefulShutdown: a request in flight when the context is
// cancelled still completes; access logs are structured.
func TestServeGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Root = t.TempDir()
	logs := &syncBuf{mu: make(chan struct{}, 1)}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, cfg, log) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + ln.Addr().String()

	resp, err := http.Post(base+"/v2/slow/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := base + resp.Header.Get("Location")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", loc, pr)
	result := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	pw.Write([]byte("first part "))
	// Wait until the server is inside the PATCH (the bytes reached the session).
	for i := 0; ; i++ {
		r, err := http.Get(loc)
		if err == nil {
			r.Body.Close()
			if r.Header.Get("Range") == "0-10" {
				break
			}
		}
		if i > 2000 {
			t.Fatal("PATCH never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	testutil.WaitFor(t, "the server to stop listening", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	pw.Write([]byte("second part"))
	pw.Close()
	if code := <-result; code != http.StatusAccepted {
		t.Fatalf("in-flight PATCH: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	done <- nil
	if _, err := http.Get(base + "/v2/"); err == nil {
		t.Fatal("server still answering after shutdown")
	}
	if !strings.Contains(logs.String(), `"msg":"request","method":"POST","path":"/v2/slow/blobs/uploads/","status":202`) {
		t.Fatalf("access log: %s", logs.String())
	}
}
