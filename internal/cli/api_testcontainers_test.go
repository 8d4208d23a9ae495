package cli

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"
)

// testcontainers-go v0.45.0 through hoist serve, in a network namespace
// of the test's own: a busybox httpd that says it is ready, waited for by
// its log line and its listening port (from the host, on the published
// port, and inside with an exec), read over that port, entered with
// exec, and terminated. Ryuk, the reaper, is disabled
// (TESTCONTAINERS_RYUK_DISABLED): it is an image of Docker Hub, which
// hoist cannot pull offline; Terminate and the server's cleanup remove
// the container instead.
func TestAPITestcontainers(t *testing.T) {
	if !inNetNS(t, "TestAPITestcontainers") {
		return
	}
	s := apiSetup(t)
	t.Setenv("DOCKER_HOST", s.host)
	t.Setenv("DOCKER_CONFIG", s.config())
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	t.Setenv("HOME", t.TempDir()) // no ~/.testcontainers.properties of the machine's

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, "busybox:latest",
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithCmd("sh", "-c", "mkdir /www && echo hello-testcontainers > /www/index.html && echo server ready && exec httpd -f -p 8080 -h /www"),
		testcontainers.WithWaitStrategy(wait.ForAll(
			wait.ForLog("server ready"),
			wait.ForListeningPort("8080/tcp"),
		).WithDeadline(time.Minute)),
	)
	if ctr != nil {
		t.Cleanup(func() { ctr.Terminate(context.Background()) })
	}
	if err != nil {
		t.Fatalf("testcontainers run: %v", err)
	}
	// The published port answers on the host.
	endpoint, err := ctr.PortEndpoint(ctx, "8080/tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", endpoint)
	if err != nil {
		t.Fatalf("dial %s: %v", endpoint, err)
	}
	io.WriteString(conn, "GET /index.html HTTP/1.0\r\n\r\n")
	body, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.HasSuffix(string(body), "\r\n\r\nhello-testcontainers\n") {
		t.Fatalf("GET over %s: %q", endpoint, body)
	}
	code, out, err := ctr.Exec(ctx, []string{"cat", "/www/index.html"}, tcexec.Multiplexed())
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if b, _ := io.ReadAll(out); string(b) != "hello-testcontainers\n" {
		t.Fatalf("exec output: %q", b)
	}
	id := ctr.GetContainerID()
	if err := ctr.Terminate(ctx, testcontainers.StopTimeout(time.Second)); err != nil { // httpd, pid 1, ignores SIGTERM
		t.Fatalf("terminate: %v", err)
	}
	if out := s.hoist("ps", "-aq", "--no-trunc"); strings.Contains(out, id) {
		t.Fatalf("container %s left after Terminate: %q", id, out)
	}
}
