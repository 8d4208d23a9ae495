package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newRegistryCmd is `hoist registry`: the built-in OCI registry server.
func newRegistryCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "registry", Short: "Run and maintain a built-in OCI registry", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(newRegistryServeCmd(e), newRegistryGCCmd(e))
	return c
}

// registryConfig builds the configuration: defaults, then --config FILE,
// then HOIST_REGISTRY_* variables, then the flags given on the command line.
// The registry root is --root when given, else the configured root, else
// <hoist root>/registry.
func registryConfig(e *env, cmd *cobra.Command, configFile string) (engine.RegistryConfig, error) {
	cfg := engine.DefaultRegistryConfig()
	if configFile == "" {
		configFile = os.Getenv(engine.RegistryEnvPrefix + "CONFIG")
	}
	if configFile != "" {
		if err := cfg.LoadConfigFile(configFile); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(os.Getenv); err != nil {
		return cfg, err
	}
	known := map[string]bool{}
	for _, k := range engine.RegistryConfigKeys() {
		known[strings.ReplaceAll(k, "_", "-")] = true
	}
	var ferr error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !known[f.Name] || f.Name == "root" {
			return
		}
		values := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			values = sv.GetSlice() // a repeatable flag: each value in turn
		}
		for _, v := range values {
			if err := cfg.Set(f.Name, v); err != nil && ferr == nil {
				ferr = err
			}
		}
	})
	if ferr != nil {
		return cfg, ferr
	}
	if cmd.Flags().Changed("root") {
		cfg.Root = e.g.Root
	} else if cfg.Root == "" {
		cfg.Root = filepath.Join(e.g.Root, "registry")
	}
	return cfg, nil
}

func newRegistryServeCmd(e *env) *cobra.Command {
	var configFile string
	d := engine.DefaultRegistryConfig()
	c := &cobra.Command{
		Use: "serve [OPTIONS]",
		Example: `  hoist registry serve --addr 127.0.0.1:5000           # store under --root
  hoist registry serve --addr :5000 --htpasswd /etc/hoist/htpasswd --tls-cert c.pem --tls-key k.pem
  hoist registry serve --s3-bucket images --s3-regionendpoint http://127.0.0.1:9000 --s3-forcepathstyle
  hoist registry serve --proxy-remote https://registry-1.docker.io   # a pull-through cache`,
		Short: "Serve an OCI distribution registry",
		Long: `Serve an OCI distribution-spec 1.1 registry (with search, stars and online GC).

Every option can also be set in the JSON config file (--config, key = option name
with "_" for "-") and by environment variables (HOIST_REGISTRY_<KEY>, e.g.
HOIST_REGISTRY_ADDR). Flags win over the environment, which wins over the file.
The registry root is --root when given, else <hoist root>/registry.
With --s3-bucket (or "storage": {"s3": {...}} in the config file, with
distribution's storage.s3 keys: bucket, region, regionendpoint, forcepathstyle,
accesskey, secretkey, rootdirectory, chunksize, secure, skipverify, and
redirect: blob GETs answered with a 307 to a presigned URL) the registry
lives in an S3 bucket instead, and any number of replicas may serve it.
With --proxy-remote URL (or "proxy": {"remoteurl", "username", "password",
"ttl"} in the config file, as distribution) the registry is a pull-through
cache of the registry at URL: the first pull of a manifest or blob fetches it
from there (verified by digest) and stores it, later pulls are served from the
store; a tag is asked about again after --proxy-ttl, and served from the store
when the upstream cannot be reached; pushes and deletes are refused
(405 UNSUPPORTED, "The operation is unsupported.", as registry:2).
Several upstreams by host: --proxy-remote HOST=URL (repeatable; or "proxy":
{"remotes": {"ghcr.io": {"remoteurl": "https://ghcr.io", "username": "u",
"password": "p"}}}): repository HOST/PATH of the cache is PATH at URL (pull
cache:5000/ghcr.io/owner/app; containerd's ?ns=HOST is understood too), any
other name is at the default upstream (--proxy-remote URL; docker's
registry-mirrors send Docker Hub names unprefixed). A name no upstream
serves is unknown (404 NAME_UNKNOWN), or with --proxy-allow-push a local
repository that accepts pushes.

Example config file:

  {
    "addr": "0.0.0.0:5000",
    "root": "/srv/registry",
    "htpasswd": "/etc/hoist/htpasswd",
    "realm": "my registry",
    "tls_cert": "/etc/hoist/cert.pem", "tls_key": "/etc/hoist/key.pem",
    "gc_interval": "6h", "gc_grace": "1h", "gc_delete_untagged": false,
    "upload_max_age": "1h", "uploads_per_repository": 256, "uploads_per_client": 1024,
    "access": [
      {"repository": "private/**", "read": ["alice", "bob"], "write": ["alice"]},
      {"repository": "library/*", "read": ["*"], "write": ["admin"]},
      {"repository": "public/**", "read": ["anonymous"], "write": ["admin"]}
    ]
  }

Access rules: the first rule whose pattern matches decides ("*" matches one
path component, "prefix/**" everything below prefix; "*" as a user means any
authenticated user; "anonymous" in a read list opens pulls to callers without
credentials, also through an anonymous token); repositories no rule matches
are open to every authenticated user. A caller the rules refuse gets 403
DENIED. /healthz answers without credentials.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := registryConfig(e, cmd, configFile)
			if err != nil {
				return withStatus(125, err)
			}
			log := e.registryLogger(cmd.Flags().Changed("log-level"))
			return engine.ServeRegistry(cmd.Context(), cfg, log)
		},
	}
	f := c.Flags()
	f.StringVar(&configFile, "config", "", "JSON configuration file (env HOIST_REGISTRY_CONFIG)")
	f.String("addr", d.Addr, "Address to listen on")
	f.String("htpasswd", "", "htpasswd file (bcrypt) turning on basic authentication")
	f.String("realm", d.Realm, "Realm of the authentication challenge")
	f.String("tls-cert", "", "TLS certificate file")
	f.String("tls-key", "", "TLS private key file")
	f.String("token-key", "", "Turn on Docker token auth, signing with the key in this file (created if missing; needs --htpasswd)")
	f.Duration("token-ttl", 15*time.Minute, "Lifetime of issued tokens")
	f.String("token-realm", "", "Token endpoint URL sent in Bearer challenges, e.g. https://registry.example.com/token (default: the address the connection arrived on, with the TLS certificate's first DNS name as host when serving TLS; never the Host header)")
	f.Bool("read-only", false, "Refuse every write")
	f.Bool("allow-sparse", false, "Accept image manifests whose layers were not pushed")
	f.Bool("access-log", d.AccessLog, "Log every request")
	f.Duration("gc-interval", 0, "Run garbage collection this often (0: never)")
	f.Duration("gc-grace", time.Duration(d.GCGrace), "Never collect blobs or manifests younger than this")
	f.Bool("gc-delete-untagged", false, "Periodic GC also deletes untagged manifests")
	f.Duration("upload-max-age", time.Duration(d.UploadMaxAge), "Expire upload sessions idle for longer than this (0: never)")
	f.Int("uploads-per-repository", d.UploadsPerRepo, "Most open upload sessions per repository (0: no cap; beyond: 429 TOOMANYREQUESTS)")
	f.Int("uploads-per-client", d.UploadsPerClient, "Most open upload sessions per client, a user or else an IP address (0: no cap)")
	addS3Flags(f)
	f.StringArray("proxy-remote", nil, "Be a pull-through cache of the registry at this URL, e.g. https://registry-1.docker.io (config: proxy.remoteurl), or with HOST=URL of the registry at URL for repositories HOST/... (repeatable; config: proxy.remotes)")
	f.String("proxy-username", "", "User name at the upstream of the cache")
	f.String("proxy-password", "", "Password at the upstream (prefer HOIST_REGISTRY_PROXY_PASSWORD or the config file)")
	f.Duration("proxy-ttl", time.Duration(d.Proxy.TTL), "Serve a cached tag this long before asking the upstream again (0: on every pull)")
	f.Bool("proxy-allow-push", false, "Accept pushes to repositories no upstream of the cache serves (default: refuse every push as registry:2)")
	return c
}

// addS3Flags adds the --s3-* flags (distribution's storage.s3 keys).
func addS3Flags(f *pflag.FlagSet) {
	f.String("s3-bucket", "", "Keep the registry in this S3 bucket instead of --root (config: storage.s3.bucket)")
	f.String("s3-region", "", "S3 region (default us-east-1)")
	f.String("s3-regionendpoint", "", "S3 server URL, e.g. http://127.0.0.1:7070 (empty: AWS)")
	f.Bool("s3-forcepathstyle", false, "Path-style bucket URLs (most S3-compatible servers)")
	f.String("s3-accesskey", "", "S3 access key (with --s3-secretkey; none: the AWS default credential chain)")
	f.String("s3-secretkey", "", "S3 secret key (prefer HOIST_REGISTRY_S3_SECRETKEY or the config file)")
	f.String("s3-rootdirectory", "", "Key prefix of the registry in the bucket")
	f.Int64("s3-chunksize", 0, "Multipart part size in bytes (at least 5 MiB; default 10 MiB)")
	f.Bool("s3-secure", true, "https for an endpoint given without a scheme")
	f.Bool("s3-skipverify", false, "Skip TLS certificate verification of the S3 endpoint")
	f.Bool("s3-redirect", false, "Answer blob GETs with a 307 to a presigned S3 URL (clients must reach the S3 endpoint)")
}

// registryLogger logs JSON to stderr at info level (so access logs show)
// unless --log-level or --debug asks otherwise.
func (e *env) registryLogger(levelSet bool) *slog.Logger {
	lvl := slog.LevelInfo
	if e.g.Debug {
		lvl = slog.LevelDebug
	} else if levelSet {
		_ = lvl.UnmarshalText([]byte(e.g.LogLevel))
	}
	return slog.New(slog.NewJSONHandler(e.errOut, &slog.HandlerOptions{Level: lvl}))
}

func newRegistryGCCmd(e *env) *cobra.Command {
	var (
		configFile, format string
		dryRun, untagged   bool
		grace, uploadAge   time.Duration
	)
	c := &cobra.Command{
		Use:   "gc [OPTIONS]",
		Short: "Remove blobs (and optionally untagged manifests) nothing references",
		Long: `Garbage-collect the registry storage. Safe while the registry is serving:
blobs and manifests younger than --grace are never collected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := registryConfig(e, cmd, configFile)
			if err != nil {
				return withStatus(125, err)
			}
			if !cmd.Flags().Changed("grace") {
				grace = time.Duration(cfg.GCGrace)
			}
			if !cmd.Flags().Changed("upload-max-age") {
				uploadAge = time.Duration(cfg.UploadMaxAge)
			}
			rep, err := engine.RegistryGC(cmd.Context(), cfg, engine.RegistryGCOptions{DryRun: dryRun, DeleteUntagged: untagged || cfg.GCDeleteUntagged, Grace: grace, UploadMaxAge: uploadAge})
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			verb := "Deleted"
			if dryRun {
				verb = "Would delete"
			}
			for _, m := range rep.ManifestsDeleted {
				fmt.Fprintf(e.out, "%s manifest: %s\n", verb, m)
			}
			for _, b := range rep.BlobsDeleted {
				fmt.Fprintf(e.out, "%s blob: %s\n", verb, b)
			}
			if rep.UploadsPurged > 0 {
				fmt.Fprintf(e.out, "Purged uploads: %d\n", rep.UploadsPurged)
			}
			space := "Total reclaimed space"
			if dryRun {
				space = "Total reclaimable space"
			}
			fmt.Fprintf(e.out, "%s: %s\n", space, units.HumanSize(rep.BytesFreed, 3))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&configFile, "config", "", "JSON configuration file of the registry")
	f.BoolVar(&dryRun, "dry-run", false, "Report what would be deleted, delete nothing")
	f.BoolVar(&untagged, "delete-untagged", false, "Also delete manifests no tag reaches")
	f.DurationVar(&grace, "grace", time.Hour, "Never collect blobs or manifests younger than this (0s: no grace, unsafe while pushes are in flight)")
	f.DurationVar(&uploadAge, "upload-max-age", time.Duration(engine.DefaultRegistryConfig().UploadMaxAge), "Purge upload sessions idle for longer than this")
	f.StringVar(&format, "format", "", `Output format ("json")`)
	addS3Flags(f)
	return c
}
