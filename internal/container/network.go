package container

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

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mount"
)

// slirp4netns's fixed addressing inside the container's namespace.
const (
	slirpGuestIP = "10.0.2.100"
	slirpDNS     = "10.0.2.3"
)

// bridgeNet is a container's user-mode network: its own network namespace
// (kept in <dir>/netns) connected to the host by slirp4netns, which also
// forwards published ports.
type bridgeNet struct {
	nsPath  string
	cmd     *exec.Cmd
	apiDir  *os.File
	api     string
	adopted int // slirp4netns started by another process (adoptBridge)
}

func (m *Manager) startBridge(c *Container) (*bridgeNet, error) {
	b := &bridgeNet{nsPath: filepath.Join(c.dir, "netns")}
	mount.RemoveNetNS(b.nsPath)
	if err := mount.NewNetNS(b.nsPath); err != nil {
		return nil, err
	}
	slirp, err := exec.LookPath("slirp4netns")
	if err != nil {
		if len(c.Ports) > 0 {
			b.stop()
			return nil, errdefs.FailedPreconditionf("publishing ports needs slirp4netns (apt-get install slirp4netns)")
		}
		return b, nil // loopback only
	}
	api, dirf, err := dirSocketPath(c.dir, "slirp.sock")
	if err != nil {
		b.stop()
		return nil, err
	}
	b.apiDir = dirf
	b.api = api
	childAPI := api
	if dirf != nil {
		childAPI = strings.Replace(api, "/proc/self/", fmt.Sprintf("/proc/%d/", os.Getpid()), 1)
	}
	os.Remove(filepath.Join(c.dir, "slirp.sock"))
	rd, wr, err := os.Pipe()
	if err != nil {
		b.stop()
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
		b.stop()
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
			b.stop()
			return nil, fmt.Errorf("slirp4netns did not become ready: %w", err)
		}
	case <-time.After(10 * time.Second):
		rd.Close()
		b.stop()
		return nil, fmt.Errorf("slirp4netns did not become ready in 10s")
	}
	for _, p := range c.Ports {
		if err := b.addHostFwd(p); err != nil {
			b.stop()
			return nil, err
		}
	}
	return b, nil
}

func (b *bridgeNet) addHostFwd(p PortBinding) error {
	hostIP := p.HostIP
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Proto, "host_addr": hostIP, "host_port": p.HostPort,
		"guest_addr": slirpGuestIP, "guest_port": p.ContainerPort,
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

func (b *bridgeNet) pid() int {
	switch {
	case b == nil:
		return 0
	case b.cmd != nil && b.cmd.Process != nil:
		return b.cmd.Process.Pid
	}
	return b.adopted
}

// adoptBridge is the monitor's handle on the network its starter brought
// up (slirpPid 0: loopback only).
func adoptBridge(c *Container, slirpPid int) *bridgeNet {
	return &bridgeNet{nsPath: filepath.Join(c.dir, "netns"), adopted: slirpPid}
}

// release hands the network over (to the monitor) without stopping it:
// only the process is reaped, when it ends.
func (b *bridgeNet) release() {
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

func (b *bridgeNet) stop() {
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
	mount.RemoveNetNS(b.nsPath)
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
