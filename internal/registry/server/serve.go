package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
)

// Run serves the registry described by cfg on cfg.Addr until ctx is done,
// then shuts down gracefully (in-flight requests finish).
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("registry: listen on %s: %w", cfg.Addr, err)
	}
	return Serve(ctx, ln, cfg, log)
}

// Serve is Run on an existing listener (which it closes).
func Serve(ctx context.Context, ln net.Listener, cfg Config, log *slog.Logger) error {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		ln.Close()
		return errors.New("registry: --tls-cert and --tls-key go together")
	}
	store, err := cfg.OpenStore(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	store.SetUploadLimits(storage.UploadLimits{
		MaxAge: time.Duration(cfg.UploadMaxAge), PerRepository: cfg.UploadsPerRepo, PerOwner: cfg.UploadsPerClient,
	})
	metrics := NewMetrics()
	opts := []Option{WithLogger(log), WithAccessLog(cfg.AccessLog), WithReadOnly(cfg.ReadOnly),
		WithAllowSparse(cfg.AllowSparse), WithMetrics(metrics), WithGCGrace(time.Duration(cfg.GCGrace))}
	proxyDesc := ""
	if cfg.Proxy.IsProxy() {
		p, err := NewProxy(cfg.Proxy, log)
		if err != nil {
			ln.Close()
			return err
		}
		opts = append(opts, WithProxy(p))
		proxyDesc = p.String()
	}
	if cfg.Htpasswd != "" {
		h, err := LoadHtpasswd(cfg.Htpasswd)
		if err != nil {
			ln.Close()
			return err
		}
		opts = append(opts, WithHtpasswd(h, cfg.Realm), WithAccessRules(cfg.Access))
		if cfg.TokenKey != "" {
			key, err := LoadOrCreateTokenKey(cfg.TokenKey)
			if err != nil {
				ln.Close()
				return err
			}
			ta, err := NewTokenAuth(key, "hoist-registry", time.Duration(cfg.TokenTTL))
			if err != nil {
				ln.Close()
				return err
			}
			opts = append(opts, WithTokenAuth(ta))
			if cfg.TokenRealm != "" {
				if err := CheckTokenRealm(cfg.TokenRealm); err != nil {
					ln.Close()
					return err
				}
				opts = append(opts, WithTokenRealm(cfg.TokenRealm))
			} else if cfg.TLSCert != "" {
				opts = append(opts, WithTokenRealmHost(certHostName(cfg.TLSCert)))
			}
		}
	} else if cfg.TokenKey != "" {
		ln.Close()
		return errors.New("registry: token authentication needs an htpasswd file")
	} else if len(cfg.Access) > 0 {
		log.Warn("registry: access rules ignored: authentication is off (no htpasswd file)")
	}
	srv := &http.Server{
		Handler:           New(store, opts...),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go maintenance(bg, store, cfg, metrics, log)

	errc := make(chan error, 1)
	go func() {
		log.Info("registry listening", "addr", ln.Addr().String(), "storage", store.Driver().String(), "tls", cfg.TLSCert != "", "auth", cfg.Htpasswd != "", "proxy", proxyDesc)
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("registry shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// certHostName is the first DNS name of the PEM certificate in file ("" if
// it has none or cannot be read).
func certHostName(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return ""
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || len(c.DNSNames) == 0 {
			return ""
		}
		return c.DNSNames[0]
	}
}

// maintenance purges abandoned uploads and runs the periodic GC.
func maintenance(ctx context.Context, store *storage.Store, cfg Config, m *Metrics, log *slog.Logger) {
	purgeEvery := min(time.Duration(cfg.UploadMaxAge)/4, time.Hour)
	if purgeEvery < time.Second {
		purgeEvery = time.Second
	}
	purge := time.NewTicker(purgeEvery)
	defer purge.Stop()
	var gcC <-chan time.Time
	if cfg.GCInterval > 0 {
		t := time.NewTicker(time.Duration(cfg.GCInterval))
		defer t.Stop()
		gcC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-purge.C:
			if cfg.UploadMaxAge > 0 {
				if n, _, err := store.PurgeUploads(ctx, time.Duration(cfg.UploadMaxAge)); err != nil {
					log.Warn("registry: purging uploads", "err", err)
				} else if n > 0 {
					log.Info("registry: purged abandoned uploads", "count", n)
				}
			}
		case <-gcC:
			rep, err := store.GC(ctx, storage.GCOptions{
				DeleteUntagged: cfg.GCDeleteUntagged, Grace: time.Duration(cfg.GCGrace),
				UploadMaxAge: time.Duration(cfg.UploadMaxAge),
			})
			m.GCRun(len(rep.BlobsDeleted), rep.BytesFreed, len(rep.ManifestsDeleted), err != nil)
			if err != nil {
				log.Warn("registry: garbage collection failed", "err", err)
				continue
			}
			log.Info("registry: garbage collection", "blobs_deleted", len(rep.BlobsDeleted), "bytes_freed", rep.BytesFreed,
				"manifests_deleted", len(rep.ManifestsDeleted), "uploads_purged", rep.UploadsPurged)
		}
	}
}
