package apiserver

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/hoistproject/hoist/internal/engine"
)

// Docker's boolean query parameters: docker-py sends Python's booleans
// as "True" and "False" (stats?stream=False streamed forever once).
func TestBoolValue(t *testing.T) {
	for q, want := range map[string]bool{"": false, "?x=": false, "?x=0": false, "?x=no": false, "?x=false": false,
		"?x=False": false, "?x=FALSE": false, "?x=%20none%20": false, "?x=1": true, "?x=true": true, "?x=True": true, "?x=yes": true} {
		if got := boolValue(httptest.NewRequest("GET", "/"+q, nil), "x"); got != want {
			t.Errorf("boolValue(%q) = %v", q, got)
		}
	}
	for q, want := range map[string]bool{"": true, "?x=": false, "?x=False": false, "?x=1": true} {
		if got := boolValueOr(httptest.NewRequest("GET", "/"+q, nil), "x", true); got != want {
			t.Errorf("boolValueOr(%q, true) = %v", q, got)
		}
	}
}

// A stream's error is in errorDetail and in the older "error" field, as
// dockerd writes it: docker-py's image build looks for "error" alone
// (a failed build was an image-less BuildError of no message once). A
// RUN's exit code is errorDetail's code, which docker's CLI exits with.
func TestJSONStreamError(t *testing.T) {
	rec := httptest.NewRecorder()
	st := newJSONStream(rec)
	st.send(jsonstream.Message{Stream: "Step 1/2\n"})
	st.fail(fmt.Errorf("Dockerfile:2: RUN: %w", &engine.BuildRunError{Command: "/bin/sh -c exit 4", ExitCode: 4}))
	want := `{"stream":"Step 1/2\n"}
{"errorDetail":{"code":4,"message":"Dockerfile:2: RUN: The command '/bin/sh -c exit 4' returned a non-zero code: 4"},"error":"Dockerfile:2: RUN: The command '/bin/sh -c exit 4' returned a non-zero code: 4"}
`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

// unread sees a unix socket's written bytes until its peer has read them
// all: what awaitRead waits on before a hijacked stream's output.
func TestUnread(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if q, err := unread(server); err != nil || q {
		t.Fatalf("nothing written: %v %v", q, err)
	}
	head := "HTTP/1.1 101 UPGRADED\r\n\r\n"
	io.WriteString(server, head)
	if q, err := unread(server); err != nil || !q {
		t.Fatalf("the head unread: %v %v", q, err)
	}
	buf := make([]byte, len(head)-1)
	io.ReadFull(client, buf)
	if q, err := unread(server); err != nil || !q {
		t.Fatalf("a byte of the head unread: %v %v", q, err)
	}
	io.ReadFull(client, buf[:1])
	if q, err := unread(server); err != nil || q {
		t.Fatalf("the head read: %v %v", q, err)
	}
	awaitRead(server, time.Minute) // returns at once: all was read
	if q, _ := unread(&net.TCPConn{}); q {
		t.Fatal("a TCP connection: unread")
	}
}
