package attach

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

type input struct {
	mu     sync.Mutex
	stdin  bytes.Buffer
	closed bool
	sizes  [][2]uint16
	got    chan struct{}
}

func (in *input) Stdin(p []byte) { in.mu.Lock(); in.stdin.Write(p); in.mu.Unlock() }
func (in *input) CloseStdin()    { in.mu.Lock(); in.closed = true; in.mu.Unlock(); close(in.got) }
func (in *input) Resize(h, w uint16) {
	in.mu.Lock()
	in.sizes = append(in.sizes, [2]uint16{h, w})
	in.mu.Unlock()
}

// TestServerClient attaches a client to a server: the client's stdin and
// terminal size reach the Input, output reaches the streams the client
// asked for, and the exit code ends the stream.
func TestServerClient(t *testing.T) {
	dir := t.TempDir()
	in := &input{got: make(chan struct{})}
	srv, err := Listen(dir, in)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	var out bytes.Buffer
	pr, pw := io.Pipe()
	conn, err := Dial(dir, &Streams{Stdin: pr, Stdout: &out, Height: 24, Width: 80, CloseStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		code, ok := conn.Stream(&Streams{Stdin: pr, Stdout: &out, CloseStdin: true})
		if !ok {
			code = -1
		}
		done <- code
	}()
	pw.Write([]byte("typed"))
	pw.Close()
	<-in.got // stdin and its end arrived: the client is registered
	srv.Stdout([]byte("to stdout"))
	srv.Stderr([]byte("to nobody"))
	srv.Exit(7, true)
	if code := <-done; code != 7 {
		t.Fatalf("exit code %d", code)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if out.String() != "to stdout" || in.stdin.String() != "typed" || !in.closed || len(in.sizes) != 1 || in.sizes[0] != [2]uint16{24, 80} {
		t.Fatalf("out %q stdin %q closed %v sizes %v", out.String(), in.stdin.String(), in.closed, in.sizes)
	}
	// After the exit, a new client cannot connect (socket removed).
	if _, err := Dial(dir, nil); err == nil {
		t.Fatal("dial after exit succeeded")
	}
}
