package cli

import (
	"net"
	"net/http"
	"testing"
)

// serveBytes serves b at every path on 127.0.0.1 and returns the base URL.
func serveBytes(t *testing.T, b []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(b) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}
