// Package s3test starts a real S3 server for tests: versitygw (Versity's
// S3 gateway, installed by scripts/install-deps.sh) with its posix backend
// on a temporary directory, listening on 127.0.0.1. Tests skip when
// versitygw is not installed.
package s3test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the posix backend's top directory: a bucket is Dir/<bucket>
	cmd       *exec.Cmd
	log       *bytes.Buffer
}

// Start starts versitygw for the test (stopped at cleanup).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		t.Skip("versitygw not installed (scripts/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	s := &Server{AccessKey: "hoisttest", SecretKey: "hoisttestsecret", Dir: dir, log: &bytes.Buffer{}}
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", addr, "--keep-alive", "posix", dir)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		s.cmd, s.Endpoint = cmd, "http://"+addr
		if s.waitReady(exited) {
			t.Cleanup(func() { cmd.Process.Kill(); <-exited })
			return s
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("versitygw did not start on %s: %s", addr, s.log)
		}
	}
}

// waitReady polls until the server answers HTTP (or exits).
func (s *Server) waitReady(exited chan struct{}) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Bucket creates a new empty bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "hoist-" + hex.EncodeToString(rnd[:])
	if err := os.Mkdir(filepath.Join(s.Dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}

// Config is the storage.s3 configuration of bucket as JSON fields.
func (s *Server) Config(bucket string) map[string]any {
	return map[string]any{"bucket": bucket, "region": "us-east-1", "regionendpoint": s.Endpoint,
		"forcepathstyle": true, "accesskey": s.AccessKey, "secretkey": s.SecretKey}
}

// Age sets the modification time of every object under bucket/prefix to
// d ago (S3 cannot backdate objects; the posix backend serves the file
// times as LastModified).
func (s *Server) Age(bucket, prefix string, d time.Duration) error {
	old := time.Now().Add(-d)
	root := filepath.Join(s.Dir, bucket, filepath.FromSlash(prefix))
	return filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			return os.Chtimes(p, old, old)
		}
		if os.IsNotExist(err) {
			return nil
		}
		return err
	})
}

// Kill stops the server (for tests of an unreachable endpoint).
func (s *Server) Kill() { s.cmd.Process.Kill() }

func (s *Server) String() string { return fmt.Sprintf("versitygw at %s", s.Endpoint) }
