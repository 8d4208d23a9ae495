package network

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Mode is docker's --network value normalised: "" and "default" are
// "bridge"; "none" and "host" are themselves.
func Mode(networkMode string) string {
	switch networkMode {
	case "", "default":
		return "bridge"
	}
	return networkMode
}

// WriteEtcFiles writes the hosts, hostname and resolv.conf of a container
// with network mode mode (Mode) into its directory dir, for bind mounts
// over /etc/...: its own name and slirp4netns's DNS on the bridge, the
// host's files with the host network, and the host's resolv.conf (or
// public servers when it names only loopback ones) otherwise.
func WriteEtcFiles(dir, mode, hostname string) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	resolv := ""
	switch mode {
	case "bridge":
		hosts += GuestIP + "\t" + hostname + "\n"
		resolv = "nameserver " + DNS + "\n"
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
	files := map[string]string{"hosts": hosts, "hostname": hostname + "\n", "resolv.conf": resolv}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
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
