package attach

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/testutil"
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

// A client of DialRegistered is registered when it returns: what the
// container writes at once, and its exit code, reach it. (With Dial the
// monitor takes the client up later, and output sent meanwhile is lost.)
func TestDialRegisteredGetsEverything(t *testing.T) {
	dir := t.TempDir()
	srv, err := Listen(dir, &input{got: make(chan struct{})})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	var out bytes.Buffer
	conn, err := DialRegistered(dir, &Streams{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout([]byte("at once"))
	srv.Exit(3, true)
	if code, ok := conn.Stream(&Streams{Stdout: &out}); !ok || code != 3 || out.String() != "at once" {
		t.Fatalf("stream: %d %v %q", code, ok, out.String())
	}
}

// A monitor that exits (its container did) before it took a client up
// closes the client's queued connection. A starter's DialRegistered then
// fails: it never has the process started, so no exit code is lost. (A
// Dial returned at once, and the starter's Stream found the monitor gone
// without the code: run --rm of a fast container failed with "No such
// container" from its fallback Wait, the container being removed.)
func TestDialRegisteredMonitorGoneBeforeAccept(t *testing.T) {
	dir := t.TempDir()
	srv, err := Listen(dir, &input{got: make(chan struct{})})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code   int
		ok     bool
		dialed error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := DialRegistered(dir, nil)
		if err != nil {
			done <- result{dialed: err}
			return
		}
		code, ok := conn.Stream(nil)
		done <- result{code: code, ok: ok}
	}()
	// The client's connection is queued on the socket, not accepted (the
	// monitor never gets to Serve); then the container exits.
	rc, err := srv.l.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		for {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(testutil.Patience.Milliseconds()))
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				t.Errorf("no connection queued on the attach socket: %v", err)
			}
			return
		}
	})
	srv.Exit(7, true)
	if r := <-done; r.dialed == nil && (!r.ok || r.code != 7) {
		t.Fatalf("the client was attached but lost the exit code: %+v", r)
	}
}
