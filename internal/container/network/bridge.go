package network

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/unixsock"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/rootless"
)

// slirp4netns's fixed addressing inside the container's namespace.
const (
	GuestIP = "10.0.2.100" // the container's address
	Gateway = "10.0.2.2"   // the host, as the container reaches it
	DNS     = "10.0.2.3"   // the DNS forwarder
)

// PortBinding is one -p: host ip/port to container port/proto.
type PortBinding struct {
	HostIP        string `json:"HostIp"`
	HostPort      int    `json:"HostPort"`
	ContainerPort int    `json:"ContainerPort"`
	Proto         string `json:"Proto"` // tcp or udp
}

// NSPath is where the network namespace of the container with directory
// dir is bind-mounted.
func NSPath(dir string) string { return filepath.Join(dir, "netns") }

// CheckBridge refuses, before anything is made, a bridge network for the
// container with directory dir that the OCI runtime rt could not join:
// runc hands the namespace paths to join to its init joined by "," and
// refuses a path holding one (a --root such as /srv/a,b). Other runtimes
// (crun) join such a path.
func CheckBridge(dir, rt string) error {
	if p := NSPath(dir); strings.Contains(p, ",") && filepath.Base(rt) == "runc" {
		return errdefs.InvalidArgumentf("the bridge network cannot run with runc here: the network namespace path %s has a ',' (from --root), which runc refuses; use --network host or none, --runtime crun, or a --root without ','", p)
	}
	return nil
}

// Bridge is a container's user-mode network: its own network namespace
// (kept in <dir>/netns) connected to the host by slirp4netns, which also
// forwards published ports.
type Bridge struct {
	nsPath  string
	cmd     *exec.Cmd
	apiDir  *os.File
	api     string
	adopted int // slirp4netns started by another process (adoptBridge), or the helper of StartNamespace
	// OnStop, when set, runs at Stop before the namespace is removed (the
	// bridge transport takes the container's interfaces down there).
	OnStop func()
}

// StartNamespace creates the network namespace of the container with
// directory dir (loopback only) and runs plug on its path (the bridge
// transport plugs the container's interfaces in): plug returns the pid of
// a helper process it started (0: none), which Pid reports. On error
// nothing is left.
func StartNamespace(dir string, plug func(nsPath string) (int, error)) (*Bridge, error) {
	b := &Bridge{nsPath: NSPath(dir)}
	mount.RemoveNetNS(b.nsPath)
	if err := mount.NewNetNS(b.nsPath); err != nil {
		return nil, err
	}
	pid, err := plug(b.nsPath)
	if err != nil {
		b.Stop()
		return nil, err
	}
	b.adopted = pid
	return b, nil
}

// StartBridge creates the network namespace of the container with
// directory dir and connects it with slirp4netns (its API socket is
// dir/slirp.sock), forwarding ports; without slirp4netns (and no ports)
// the namespace has a loopback interface only.
func StartBridge(dir string, ports []PortBinding) (*Bridge, error) {
	b := &Bridge{nsPath: NSPath(dir)}
	mount.RemoveNetNS(b.nsPath)
	if err := mount.NewNetNS(b.nsPath); err != nil {
		return nil, err
	}
	slirp, err := exec.LookPath("slirp4netns")
	if err != nil {
		if len(ports) > 0 {
			b.Stop()
			return nil, errdefs.FailedPreconditionf("publishing ports needs slirp4netns (apt-get install slirp4netns)")
		}
		return b, nil // loopback only
	}
	if rootless.Running() && unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK) != nil {
		b.Stop()
		return nil, errdefs.FailedPreconditionf("rootless hoist: the bridge network needs /dev/net/tun usable by this user " +
			"(mode 0666, as Debian's udev makes it: as root, chmod 0666 /dev/net/tun); or use --network host or none")
	}
	api, dirf, err := unixsock.Path(dir, "slirp.sock")
	if err != nil {
		b.Stop()
		return nil, err
	}
	b.apiDir = dirf
	b.api = api
	childAPI := unixsock.ForChild(api, dirf)
	os.Remove(filepath.Join(dir, "slirp.sock"))
	rd, wr, err := os.Pipe()
	if err != nil {
		b.Stop()
		return nil, err
	}
	b.cmd = exec.Command(slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--netns-type=path", "--api-socket", childAPI, "--ready-fd=3", b.nsPath, "tap0")
	b.cmd.ExtraFiles = []*os.File{wr}
	// Its own session: the terminal's signals (^C to a foreground run) are
	// the container's, not the network helper's.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := b.cmd.Start(); err != nil {
		rd.Close()
		wr.Close()
		b.Stop()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	wr.Close()
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 1)
		_, err := rd.Read(buf)
		ready <- err
	}()
	select {
	case err := <-ready:
		rd.Close()
		if err != nil {
			b.Stop()
			return nil, fmt.Errorf("slirp4netns did not become ready: %w", err)
		}
	case <-time.After(10 * time.Second):
		rd.Close()
		b.Stop()
		return nil, fmt.Errorf("slirp4netns did not become ready in 10s")
	}
	for _, p := range ports {
		if err := b.addHostFwd(p); err != nil {
			b.Stop()
			return nil, err
		}
	}
	return b, nil
}

func (b *Bridge) addHostFwd(p PortBinding) error {
	hostIP := p.HostIP
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Proto, "host_addr": hostIP, "host_port": p.HostPort,
		"guest_addr": GuestIP, "guest_port": p.ContainerPort,
	}}
	conn, err := net.Dial("unix", b.api)
	if err != nil {
		return fmt.Errorf("slirp4netns api: %w", err)
	}
	defer conn.Close()
	enc, _ := json.Marshal(req)
	if _, err := conn.Write(enc); err != nil {
		return fmt.Errorf("slirp4netns api: %w", err)
	}
	conn.(*net.UnixConn).CloseWrite()
	resp, _ := io.ReadAll(conn)
	var r struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return fmt.Errorf("slirp4netns api: bad response %q", resp)
	}
	if r.Error != nil {
		return errdefs.Conflictf("driver failed programming external connectivity on endpoint: Bind for %s:%d failed: port is already allocated (%s)", hostIP, p.HostPort, r.Error.Desc)
	}
	return nil
}

// Pid is slirp4netns's pid, 0 for none.
func (b *Bridge) Pid() int {
	switch {
	case b == nil:
		return 0
	case b.cmd != nil && b.cmd.Process != nil:
		return b.cmd.Process.Pid
	}
	return b.adopted
}

// Adopt is a handle on the network of the container with directory dir
// that another process brought up (slirpPid 0: loopback only), for
// stopping it.
func Adopt(dir string, slirpPid int) *Bridge {
	return &Bridge{nsPath: NSPath(dir), adopted: slirpPid}
}

// Release hands the network over (to the monitor) without stopping it:
// only the process is reaped, when it ends.
func (b *Bridge) Release() {
	if b == nil {
		return
	}
	if b.cmd != nil && b.cmd.Process != nil {
		go b.cmd.Wait()
	}
	if b.apiDir != nil {
		b.apiDir.Close()
	}
}

// Stop stops slirp4netns and removes the network namespace.
func (b *Bridge) Stop() {
	if b == nil {
		return
	}
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
	killSlirp(b.adopted)
	if b.apiDir != nil {
		b.apiDir.Close()
	}
	if b.OnStop != nil {
		b.OnStop()
	}
	mount.RemoveNetNS(b.nsPath)
}

// Cleanup stops the network of the container with directory dir that a
// process now gone brought up: the slirp4netns with pid slirpPid (checked
// by name) and the namespace.
func Cleanup(dir string, slirpPid int) {
	killSlirp(slirpPid)
	mount.RemoveNetNS(NSPath(dir))
}

// killSlirp kills the slirp4netns with this pid (checked by name: the pid
// comes from a record and may have been reused).
func killSlirp(pid int) {
	if pid <= 0 || pid == os.Getpid() {
		return
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "slirp4netns" {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
