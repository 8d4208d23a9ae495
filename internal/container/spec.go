package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// resolveCommand applies docker's ENTRYPOINT/CMD precedence: a user command
// replaces the image's CMD; --entrypoint replaces the image's ENTRYPOINT and
// clears its CMD.
func resolveCommand(img []string, imgCmd []string, cfg Config) ([]string, error) {
	entry, cmd := img, imgCmd
	if cfg.EntrypointSet {
		entry, cmd = nil, nil
		if len(cfg.Entrypoint) > 0 && !(len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "") {
			entry = cfg.Entrypoint
		}
	}
	if len(cfg.Cmd) > 0 {
		cmd = cfg.Cmd
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return nil, errdefs.InvalidArgumentf("No command specified")
	}
	return args, nil
}

// processEnv is the container process's environment: PATH and HOSTNAME
// defaults, TERM with a tty, then the merged image+user env.
func processEnv(c *Container, tty bool, extra []string) []string {
	base := []string{"PATH=" + spec.DefaultPath, "HOSTNAME=" + c.Config.Hostname}
	if tty {
		base = append(base, "TERM=xterm")
	}
	return spec.MergeEnv(base, c.Config.Env, extra)
}

// buildSpec generates the OCI runtime spec for c with its rootfs mounted at
// rootfs.
func (m *Manager) buildSpec(c *Container, rootfs string) (*specs.Spec, error) {
	o := spec.Options{
		Rootfs:         rootfs,
		ReadonlyRootfs: c.HostConfig.ReadonlyRootfs,
		Hostname:       c.Config.Hostname,
		User:           c.Config.User,
		Cwd:            c.Config.WorkingDir,
		Args:           append([]string{c.Path}, c.Args...),
		Env:            processEnv(c, c.Config.Tty, nil),
		Tty:            c.Config.Tty,
		Ulimits:        c.HostConfig.Ulimits,
		SecurityOpt:    c.HostConfig.SecurityOpt,
		CgroupsPath:    "hoist-" + c.ID,
		Memory:         c.HostConfig.Memory,
		NanoCPUs:       c.HostConfig.NanoCPUs,
		CPUShares:      c.HostConfig.CPUShares,
		PidsLimit:      c.HostConfig.PidsLimit,
	}
	switch netMode(c) {
	case "host":
		o.HostNetwork = true
	case "none":
	default:
		o.NetNS = filepath.Join(c.dir, "netns")
	}
	if c.HostConfig.Init {
		o.Init = m.opts.Self[0]
	}
	// Per-container files, bind-mounted so they are never part of the
	// container's upper dir (never committed).
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		o.Mounts = append(o.Mounts, spec.Bind(filepath.Join(c.dir, f), "/etc/"+f, true))
	}
	for _, mp := range c.Mounts {
		o.Volumes = append(o.Volumes, spec.Bind(mp.Source, mp.Destination, mp.RW))
	}
	return spec.Generate(o)
}

func netMode(c *Container) string {
	switch c.HostConfig.NetworkMode {
	case "", "default":
		return "bridge"
	}
	return c.HostConfig.NetworkMode
}

// writeEtcFiles writes the container's hosts, hostname and resolv.conf.
func writeEtcFiles(c *Container) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	resolv := ""
	switch netMode(c) {
	case "bridge":
		hosts += slirpGuestIP + "\t" + c.Config.Hostname + "\n"
		resolv = "nameserver " + slirpDNS + "\n"
	case "host":
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	if resolv == "" {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil || !hasUsableNameserver(string(b)) {
			b = []byte("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
		}
		resolv = string(b)
	}
	files := map[string]string{"hosts": hosts, "hostname": c.Config.Hostname + "\n", "resolv.conf": resolv}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// hasUsableNameserver is false when every nameserver is a loopback address
// (unreachable from a container's own network namespace).
func hasUsableNameserver(resolv string) bool {
	for _, l := range strings.Split(resolv, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" && !strings.HasPrefix(f[1], "127.") && f[1] != "::1" {
			return true
		}
	}
	return false
}
