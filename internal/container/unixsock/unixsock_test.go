package unixsock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLongDir listens and dials in a directory whose path is too long for
// a sockaddr_un.
func TestLongDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(dir, "x.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := Dial(dir, "x.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q %v", buf, err)
	}
	p, f, err := Path(dir, "x.sock")
	if err != nil || f == nil || !strings.HasPrefix(p, "/proc/self/fd/") {
		t.Fatalf("long path: %q %v %v", p, f, err)
	}
	defer f.Close()
	if q := ForChild(p, f); !strings.HasPrefix(q, "/proc/") || strings.HasPrefix(q, "/proc/self/") {
		t.Fatalf("for child: %q", q)
	}
	if p, f, _ := Path(t.TempDir(), "s"); f != nil || ForChild(p, f) != p {
		t.Fatalf("short path: %q", p)
	}
}
