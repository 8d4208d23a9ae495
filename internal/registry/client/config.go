package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// DefaultCertsDirs are the directories searched for per-registry
// certificates, in order.
func DefaultCertsDirs() []string { return []string{"/etc/hoist/certs.d", "/etc/docker/certs.d"} }

// Config is hoist's registry configuration (the subset of docker's
// daemon.json that concerns registries).
type Config struct {
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	RegistryMirrors    []string `json:"registry-mirrors,omitempty"`
	// DefaultRegistry replaces docker.io for every docker.io name (a site
	// mirror that must be used instead of Docker Hub).
	DefaultRegistry string `json:"default-registry,omitempty"`
}

// DefaultConfigPath is $HOIST_CONFIG, else /etc/hoist/config.json.
func DefaultConfigPath() string {
	if p := os.Getenv("HOIST_CONFIG"); p != "" {
		return p
	}
	return "/etc/hoist/config.json"
}

// LoadConfig reads hoist's config file; a missing file is the zero Config.
// Fields other than the registry ones are ignored.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading hoist config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errdefs.InvalidArgumentf("hoist config %s: %v", path, err)
	}
	for _, m := range c.RegistryMirrors {
		if _, err := parseMirror(m); err != nil {
			return c, errdefs.InvalidArgumentf("hoist config %s: registry-mirrors: %v", path, err)
		}
	}
	for _, r := range c.InsecureRegistries {
		if strings.Contains(r, "://") {
			return c, errdefs.InvalidArgumentf("hoist config %s: insecure-registries: %q must be host[:port] or a CIDR, without a scheme", path, r)
		}
	}
	return c, nil
}

// IsLoopback reports whether host (host[:port]) is localhost or a loopback IP.
func IsLoopback(host string) bool {
	h := hostOnly(host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// IsInsecure reports whether plain HTTP (and unverified TLS) is allowed for
// host: loopback hosts and the insecure-registries entries (host, host:port
// or a CIDR containing the host's IP).
func (c Config) IsInsecure(host string) bool {
	if IsLoopback(host) {
		return true
	}
	h := hostOnly(host)
	ip := net.ParseIP(h)
	for _, e := range c.InsecureRegistries {
		if e == host || e == h {
			return true
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// mirror is one registry mirror endpoint.
type mirror struct {
	scheme, host string
}

func parseMirror(s string) (mirror, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return mirror{}, fmt.Errorf("invalid mirror %q: want https://host[:port]", s)
	}
	if u.Path != "" && u.Path != "/" {
		return mirror{}, fmt.Errorf("invalid mirror %q: a mirror has no path", s)
	}
	return mirror{scheme: u.Scheme, host: u.Host}, nil
}
