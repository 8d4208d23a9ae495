package server

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
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
	var keys []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Slice {
			continue
		}
		keys = append(keys, strings.Split(f.Tag.Get("json"), ",")[0])
	}
	return keys
}

// Set sets one scalar key (its json name; "-" may stand for "_") from text.
func (c *Config) Set(key, value string) error {
	key = strings.ReplaceAll(key, "-", "_")
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if strings.Split(t.Field(i).Tag.Get("json"), ",")[0] != key {
			continue
		}
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(value)
		case bool:
			b, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", key, value)
			}
			f.SetBool(b)
		case int:
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return fmt.Errorf("%s: %q is not a count (0 or more)", key, value)
			}
			f.SetInt(int64(n))
		case Duration:
			d, err := time.ParseDuration(value)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			f.SetInt(int64(d))
		default:
			return fmt.Errorf("%s cannot be set from text", key)
		}
		return nil
	}
	return fmt.Errorf("unknown registry setting %q", key)
}
