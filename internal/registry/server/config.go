package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
)

// Duration is a time.Duration written as a Go duration string ("90s", "1h")
// in the config file.
type Duration time.Duration

// UnmarshalJSON accepts "1h30m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration: want a string like \"1h\" or seconds, got %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Config is everything `hoist registry serve` can be told. Every field can
// come from the JSON config file (key = the json tag), the environment
// (HOIST_REGISTRY_<KEY in upper case>) or a flag (--<key with - for _>);
// flags win over the environment, which wins over the file.
type Config struct {
	Addr             string       `json:"addr"`
	Root             string       `json:"root"`
	Htpasswd         string       `json:"htpasswd"`
	Realm            string       `json:"realm"`
	TLSCert          string       `json:"tls_cert"`
	TLSKey           string       `json:"tls_key"`
	ReadOnly         bool         `json:"read_only"`
	AllowSparse      bool         `json:"allow_sparse"`
	AccessLog        bool         `json:"access_log"`
	GCInterval       Duration     `json:"gc_interval"`
	GCGrace          Duration     `json:"gc_grace"`
	GCDeleteUntagged bool         `json:"gc_delete_untagged"`
	UploadMaxAge     Duration     `json:"upload_max_age"`
	UploadsPerRepo   int          `json:"uploads_per_repository"`
	UploadsPerClient int          `json:"uploads_per_client"`
	TokenRealm       string       `json:"token_realm"`
	TokenKey         string       `json:"token_key"`
	TokenTTL         Duration     `json:"token_ttl"`
	Access           []AccessRule `json:"access,omitempty"`
	// Storage selects the storage driver: {"s3": {...}} with distribution's
	// storage.s3 keys; without it the filesystem under Root. Its scalar
	// keys are also settable as s3_<key> (--s3-<key>,
	// HOIST_REGISTRY_S3_<KEY>).
	Storage StorageConfig `json:"storage"`
	// Proxy makes the registry a pull-through cache of other registries
	// (distribution's proxy section, plus remotes by host); its scalar
	// keys are also settable as proxy_<key> (--proxy-remote,
	// --proxy-username, --proxy-password, --proxy-ttl,
	// --proxy-allow-push; HOIST_REGISTRY_PROXY_<KEY>). proxy_remote takes
	// a URL (the default upstream) or HOST=URL (an upstream by host), or a
	// comma-separated list of these.
	Proxy ProxyConfig `json:"proxy"`
}

// ProxyConfig is the proxy section: the upstream registries of a
// pull-through cache. The key tag names a field's flat setting when it
// differs from its JSON key.
type ProxyConfig struct {
	// RemoteURL is the default upstream (repositories not named after a
	// host of Remotes): https://host[:port] (http:// for a registry
	// without TLS). Neither it nor Remotes: not a cache.
	RemoteURL string `json:"remoteurl" key:"remote"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	// TTL is how long a tag fetched from an upstream is served without
	// asking the upstream again (0: ask on every pull).
	TTL Duration `json:"ttl"`
	// Remotes are upstreams by host: repository <host>/<path> of the
	// cache is <path> at Remotes[<host>] (e.g. "ghcr.io").
	Remotes map[string]ProxyRemote `json:"remotes,omitempty"`
	// AllowPush accepts pushes (and deletes) to repositories no upstream
	// serves (local repositories beside the cached ones); without it every
	// write is refused as registry:2 refuses it (405 UNSUPPORTED).
	AllowPush bool `json:"allow_push"`
}

// ProxyRemote is one upstream of ProxyConfig.Remotes.
type ProxyRemote struct {
	RemoteURL string `json:"remoteurl"`
	Username  string `json:"username,omitempty"`
	Password  string `json:"password,omitempty"`
}

// IsProxy reports whether the registry is a pull-through cache.
func (p ProxyConfig) IsProxy() bool { return p.RemoteURL != "" || len(p.Remotes) > 0 }

// SetRemote applies a proxy_remote setting: comma-separated items, each a
// URL (the default upstream) or HOST=URL (the upstream of repositories
// named HOST/...; credentials for it stay those of the config file).
func (p *ProxyConfig) SetRemote(value string) error {
	for item := range strings.SplitSeq(value, ",") {
		item = strings.TrimSpace(item)
		host, u, ok := strings.Cut(item, "=")
		if !ok {
			p.RemoteURL = item
			continue
		}
		if !ValidProxyHost(host) {
			return fmt.Errorf("proxy_remote %q: %q is not a registry host name such as ghcr.io (lowercase, with a dot, no port)", item, host)
		}
		if p.Remotes == nil {
			p.Remotes = map[string]ProxyRemote{}
		}
		r := p.Remotes[host]
		r.RemoteURL = u
		p.Remotes[host] = r
	}
	return nil
}

// StorageConfig is the storage section of the config file.
type StorageConfig struct {
	S3 *storage.S3Config `json:"s3,omitempty"`
}

// UsesS3 reports whether the S3 driver is configured.
func (c *Config) UsesS3() bool { return c.Storage.S3 != nil && c.Storage.S3.Bucket != "" }

// OpenStore opens the configured storage: the S3 bucket when one is
// configured, else the filesystem root.
func (c *Config) OpenStore(ctx context.Context) (*storage.Store, error) {
	if c.UsesS3() {
		return storage.OpenS3(ctx, *c.Storage.S3)
	}
	if c.Storage.S3 != nil {
		return nil, errors.New("registry: storage.s3 has no bucket")
	}
	if c.Root == "" {
		return nil, errors.New("registry: no root directory configured")
	}
	return storage.Open(c.Root)
}

// sections are the config objects whose scalar keys are also settable
// flat, as prefix + key.
var sections = []struct {
	prefix string
	typ    reflect.Type
	value  func(c *Config) reflect.Value
}{
	{"s3_", reflect.TypeOf(storage.S3Config{}), func(c *Config) reflect.Value {
		if c.Storage.S3 == nil {
			c.Storage.S3 = &storage.S3Config{}
		}
		return reflect.ValueOf(c.Storage.S3).Elem()
	}},
	{"proxy_", reflect.TypeOf(ProxyConfig{}), func(c *Config) reflect.Value { return reflect.ValueOf(&c.Proxy).Elem() }},
}

// DefaultConfig is the configuration before file, environment and flags.
func DefaultConfig() Config {
	return Config{
		Addr:             "127.0.0.1:5000",
		Realm:            "hoist registry",
		AccessLog:        true,
		GCGrace:          Duration(time.Hour),
		UploadMaxAge:     Duration(time.Hour),
		UploadsPerRepo:   256,
		UploadsPerClient: 1024,
		Proxy:            ProxyConfig{TTL: Duration(10 * time.Minute)},
	}
}

// LoadConfigFile overlays the JSON file on c. Unknown keys are an error.
func (c *Config) LoadConfigFile(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading registry config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("registry config %s: %w", file, err)
	}
	return nil
}

// EnvPrefix prefixes the environment variables of Config's keys.
const EnvPrefix = "HOIST_REGISTRY_"

// ApplyEnv overlays HOIST_REGISTRY_* variables found by getenv.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	for _, key := range ConfigKeys() {
		if v := getenv(EnvPrefix + strings.ToUpper(key)); v != "" {
			if err := c.Set(key, v); err != nil {
				return fmt.Errorf("%s%s: %w", EnvPrefix, strings.ToUpper(key), err)
			}
		}
	}
	return nil
}

// ConfigKeys lists the scalar keys settable with Set.
func ConfigKeys() []string {
	keys := scalarKeys(reflect.TypeOf(Config{}), "")
	for _, sec := range sections {
		keys = append(keys, scalarKeys(sec.typ, sec.prefix)...)
	}
	return keys
}

// flatName is a field's name as a flat setting: its key tag, else its
// JSON key.
func flatName(f reflect.StructField) string {
	if k := f.Tag.Get("key"); k != "" {
		return k
	}
	return strings.Split(f.Tag.Get("json"), ",")[0]
}

func scalarKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		switch f.Type.Kind() {
		case reflect.Slice, reflect.Struct, reflect.Map:
			continue
		}
		keys = append(keys, prefix+flatName(f))
	}
	return keys
}

// Set sets one scalar key (its json name; "-" may stand for "_") from text.
func (c *Config) Set(key, value string) error {
	key = strings.ReplaceAll(key, "-", "_")
	if key == "proxy_remote" {
		return c.Proxy.SetRemote(value)
	}
	for _, sec := range sections {
		if k, ok := strings.CutPrefix(key, sec.prefix); ok {
			return setField(sec.value(c), k, key, value)
		}
	}
	return setField(reflect.ValueOf(c).Elem(), key, key, value)
}

func setField(v reflect.Value, key, name, value string) error {
	t := v.Type()
	for i := range t.NumField() {
		if flatName(t.Field(i)) != key {
			continue
		}
		f := v.Field(i)
		switch f.Interface().(type) {
		case *bool:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", name, value)
			}
			f.Set(reflect.ValueOf(&b))
		case int64:
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%s: %q is not a size in bytes", name, value)
			}
			f.SetInt(n)
		case string:
			f.SetString(value)
		case bool:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", name, value)
			}
			f.SetBool(b)
		case int:
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return fmt.Errorf("%s: %q is not a count (0 or more)", name, value)
			}
			f.SetInt(int64(n))
		case Duration:
			d, err := time.ParseDuration(value)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			f.SetInt(int64(d))
		default:
			return fmt.Errorf("%s cannot be set from text", name)
		}
		return nil
	}
	return fmt.Errorf("unknown registry setting %q", name)
}
