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

// Etc is what a container's /etc/hosts and /etc/resolv.conf add to the
// defaults: docker's --add-host (HOST:IP; host-gateway is the host as the
// container reaches it), --dns, --dns-search and --dns-option.
type Etc struct {
	ExtraHosts                 []string
	DNS, DNSSearch, DNSOptions []string
	// IP and Gateway are the container's address and gateway on its
	// bridge network ("": slirp4netns's); Nameserver is its network's
	// DNS resolver ("": the host's, or slirp4netns's); Hosts are extra
	// hosts lines ("IP\tNAMES", --link).
	IP, Gateway, Nameserver string
	Hosts                   []string
}

// WriteEtcFiles writes the hosts, hostname and resolv.conf of a container
// with network mode mode (Mode) into its directory dir, for bind mounts
// over /etc/...: its own name and slirp4netns's DNS on the bridge, the
// host's files with the host network, and the host's resolv.conf (or
// public servers when it names only loopback ones) otherwise; then what
// extra adds.
func WriteEtcFiles(dir, mode, hostname string, extra Etc) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	resolv := ""
	switch mode {
	case "bridge":
		ip := GuestIP
		if extra.IP != "" {
			ip = extra.IP
		}
		for _, h := range extra.Hosts {
			hosts += h + "\n"
		}
		hosts += ip + "\t" + hostname + "\n"
		switch {
		case extra.Nameserver != "":
			resolv = "nameserver " + extra.Nameserver + "\noptions ndots:0\n"
		case extra.IP == "":
			resolv = "nameserver " + DNS + "\n"
		}
	case "host":
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	for _, h := range extra.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == "host-gateway" {
			ip = HostGateway(mode)
			if extra.Gateway != "" {
				ip = extra.Gateway
			}
		}
		hosts += ip + "\t" + name + "\n"
	}
	if resolv == "" {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil || !hasUsableNameserver(string(b)) {
			b = []byte("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
		}
		resolv = string(b)
	}
	if len(extra.DNS)+len(extra.DNSSearch)+len(extra.DNSOptions) > 0 {
		resolv = customResolv(resolv, extra)
	}
	files := map[string]string{"hosts": hosts, "hostname": hostname + "\n", "resolv.conf": resolv}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// customResolv is docker's resolv.conf with --dns, --dns-search and
// --dns-option: search, nameservers, options, each replacing the base's
// when given.
func customResolv(base string, e Etc) string {
	var search, ns, opts []string
	for _, l := range strings.Split(base, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "search", "domain":
			search = f[1:]
		case "nameserver":
			ns = append(ns, f[1])
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	if len(e.DNSSearch) > 0 {
		search = e.DNSSearch
	}
	if len(e.DNS) > 0 {
		ns = e.DNS
	}
	if len(e.DNSOptions) > 0 {
		opts = e.DNSOptions
	}
	var b strings.Builder
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, n := range ns {
		b.WriteString("nameserver " + n + "\n")
	}
	if len(opts) > 0 {
		b.WriteString("options " + strings.Join(opts, " ") + "\n")
	}
	return b.String()
}

// HostGateway is the address of the host as a container with network mode
// mode reaches it (docker's host-gateway): slirp4netns's gateway on the
// bridge, loopback with the host's network.
func HostGateway(mode string) string {
	if mode == "bridge" {
		return Gateway
	}
	return "127.0.0.1"
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
