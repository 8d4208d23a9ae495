package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/hoistproject/hoist/internal/content"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

func serveInBackground(t *testing.T, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)

	cfg := DefaultConfig()
	cfg.Root, cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "root"), certFile, keyFile
	addr := serveInBackground(t, cfg)
	pool := x509.NewCertPool()
	cert, _ := x509.ParseCertificate(der)
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	var resp *http.Response
	for i := 0; i < 500; i++ {
		if resp, err = c.Get("https://" + addr + "/v2/"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("https /v2/: %d", resp.StatusCode)
	}
	// Cert without key is refused up front.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	bad := cfg
	bad.TLSKey = ""
	if err := Serve(context.Background(), ln, bad, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("cert without key: %v", err)
	}
}

func TestPeriodicGC(t *testing.T) {
	root := t.TempDir()
	st, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	orphan := "orphaned blob"
	d := digest.FromString(orphan)
	if _, err := st.PutBlob(context.Background(), "gc/me", strings.NewReader(orphan), int64(len(orphan)), d); err != nil {
		t.Fatal(err)
	}
	p, _ := st.Blobs().(*content.Local).BlobPath(d)
	old := time.Now().Add(-3 * time.Hour)
	os.Chtimes(p, old, old)

	cfg := DefaultConfig()
	cfg.Root, cfg.GCInterval, cfg.AccessLog = root, Duration(20*time.Millisecond), false
	addr := serveInBackground(t, cfg)
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "hoist_registry_gc_blobs_deleted_total 1") {
			break
		}
		if i > 1000 {
			t.Fatalf("periodic GC never collected the orphan:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("orphan still there: %v", err)
	}
}
