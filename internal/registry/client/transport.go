package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hostTransport picks a per-host http.Transport (each with its host's TLS
// settings) and otherwise behaves like http.DefaultTransport.
type hostTransport struct {
	certsDirs []string
	insecure  func(host string) bool

	mu     sync.Mutex
	byHost map[string]*http.Transport
	roots  *x509.CertPool
}

func newHostTransport(certsDirs []string, insecure func(string) bool) *hostTransport {
	return &hostTransport{certsDirs: certsDirs, insecure: insecure, byHost: map[string]*http.Transport{}}
}

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr, err := t.get(req.URL.Host)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return tr.RoundTrip(req)
}

func (t *hostTransport) get(host string) (*http.Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.byHost[host]; ok {
		return tr, nil
	}
	tc, err := t.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		ExpectContinueTimeout: 1 * time.Second,
	}
	t.byHost[host] = tr
	return tr, nil
}

// closeIdle closes idle connections of every host transport.
func (t *hostTransport) closeIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.byHost {
		tr.CloseIdleConnections()
	}
}

// tlsConfig builds host's TLS settings: system roots plus the certs.d CAs,
// client certificates, and no verification for insecure registries.
func (t *hostTransport) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.insecure != nil && t.insecure(host) {
		tc.InsecureSkipVerify = true
	}
	var dirs []string
	names := []string{host}
	if h, port, err := net.SplitHostPort(host); err == nil && port == "443" {
		names = append(names, h)
	}
	for _, base := range t.certsDirs {
		for _, n := range names {
			d := filepath.Join(base, n)
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	if len(dirs) == 0 {
		return tc, nil
	}
	if t.roots == nil {
		sys, err := x509.SystemCertPool()
		if err != nil || sys == nil {
			sys = x509.NewCertPool()
		}
		t.roots = sys
	}
	pool := t.roots.Clone()
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("reading certificates for %s: %w", host, err)
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			switch {
			case strings.HasSuffix(e.Name(), ".crt"):
				b, err := os.ReadFile(p)
				if err != nil {
					return nil, fmt.Errorf("reading CA certificate for %s: %w", host, err)
				}
				if !pool.AppendCertsFromPEM(b) {
					return nil, fmt.Errorf("CA certificate %s for %s holds no PEM certificate", p, host)
				}
			case strings.HasSuffix(e.Name(), ".cert"):
				keyPath := strings.TrimSuffix(p, ".cert") + ".key"
				if _, err := os.Stat(keyPath); err != nil {
					return nil, fmt.Errorf("client certificate %s for %s has no key %s", p, host, keyPath)
				}
				pair, err := tls.LoadX509KeyPair(p, keyPath)
				if err != nil {
					return nil, fmt.Errorf("client certificate %s for %s: %w", p, host, err)
				}
				tc.Certificates = append(tc.Certificates, pair)
			case strings.HasSuffix(e.Name(), ".key"):
				if _, err := os.Stat(strings.TrimSuffix(p, ".key") + ".cert"); err != nil {
					return nil, fmt.Errorf("client key %s for %s has no certificate %s.cert", p, host, strings.TrimSuffix(p, ".key"))
				}
			}
		}
	}
	tc.RootCAs = pool
	return tc, nil
}

// retryTransport retries idempotent requests (GET, HEAD, PUT, DELETE with a
// replayable body) on connection errors and on 429/500/502/503/504, with
// exponential backoff and jitter.
type retryTransport struct {
	base    http.RoundTripper
	max     int
	backoff time.Duration
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	}
	return false
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError reports whether a transport error may go away on retry:
// not a cancellation, not a TLS verification failure.
func retryableError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false // a name that does not exist will not appear
	}
	return !isTLSError(err)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.max <= 0 || !idempotent(req) {
		return t.base.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := t.base.RoundTrip(r)
		retry := (err != nil && retryableError(err)) || (err == nil && retryableStatus(resp.StatusCode))
		if !retry || attempt >= t.max {
			return resp, err
		}
		wait := backoffDelay(t.backoff, attempt)
		if resp != nil {
			if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 && s <= 30 {
				wait = time.Duration(s) * time.Second
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := sleepCtx(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

func backoffDelay(base time.Duration, attempt int) time.Duration {
	d := base << attempt
	if d > 10*time.Second {
		d = 10 * time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkRedirect never forwards credentials to another host (or from HTTPS
// to HTTP): blob downloads are often redirected to storage on other hosts.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	orig := via[0].URL
	if req.URL.Host != orig.Host || (orig.Scheme == "https" && req.URL.Scheme != "https") {
		req.Header.Del("Authorization")
	}
	return nil
}

// isTLSError reports whether err is a TLS handshake or verification error.
func isTLSError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cve) ||
		errors.As(err, &rhe) || errors.As(err, &ae)
}

// explainTLS turns a TLS failure with host into an error naming the host and
// the ways to fix it.
func explainTLS(host string, err error) error {
	dirs := DefaultCertsDirs()
	return fmt.Errorf("%w\nTLS connection to registry %s failed. If it uses a private or self-signed CA, install the CA certificate as %s/%s/ca.crt (or %s/%s/ca.crt); if it has no valid TLS at all, add %q to \"insecure-registries\" in %s",
		err, host, dirs[0], host, dirs[1], host, host, DefaultConfigPath())
}
