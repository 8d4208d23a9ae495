package network

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// HelperVerb is the hidden verb of hoist's network helpers: `hoist
// network-helper proxy NSPATH SPEC...` (the published ports' proxy of one
// container) and `hoist network-helper resolver NETWORK-ID` (a network's
// DNS resolver). Each says it is ready on fd 3.
const HelperVerb = "network-helper"

// spawn starts a helper in its own session (it outlives the command) and
// waits until it says it is ready; it returns its pid.
func (s *Store) spawn(args ...string) (int, error) {
	if len(s.Self) == 0 {
		return 0, fmt.Errorf("network helper: no hoist executable")
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	argv := append(append(append([]string{}, s.Self[1:]...), "--root", s.Root, HelperVerb), args...)
	cmd := exec.Command(s.Self[0], argv...)
	cmd.Env = append(os.Environ(), s.SelfEnv...)
	cmd.ExtraFiles = []*os.File{wr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		wr.Close()
		return 0, fmt.Errorf("start network helper: %w", err)
	}
	wr.Close()
	go cmd.Wait()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(rd).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if l == "ok" {
			return cmd.Process.Pid, nil
		}
		cmd.Process.Kill()
		if l == "" {
			l = "network helper exited"
		}
		return 0, errdefs.Conflictf("%s", l)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return 0, fmt.Errorf("network helper did not become ready in 10s")
	}
}

// IsHelper reports whether pid is a hoist network helper whose arguments
// hold word (a pid from a record may have been reused).
func IsHelper(pid int, word string) bool {
	if pid <= 0 || pid == os.Getpid() {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	helper, has := false, false
	for _, a := range args {
		helper = helper || a == HelperVerb
		has = has || strings.Contains(a, word)
	}
	return helper && has
}

// startProxy starts the proxy of ep's published ports: it listens on the
// host's ports and forwards to ep's address (the loopback path that DNAT
// does not take, as docker-proxy).
func (s *Store) startProxy(ep *Endpoint, nsPath string, ports []PortBinding) (int, error) {
	args := []string{"proxy", nsPath}
	for _, p := range ports {
		host := p.HostIP
		if host == "" {
			host = "0.0.0.0"
		}
		args = append(args, fmt.Sprintf("%s:%s:%d:%s:%d", p.Proto, host, p.HostPort, ep.IP, p.ContainerPort))
	}
	pid, err := s.spawn(args...)
	if err != nil && errdefs.IsConflict(err) {
		return 0, errdefs.Conflictf("driver failed programming external connectivity on endpoint %s (%s): %v", ep.ContainerName, ep.EndpointID, err)
	}
	return pid, err
}

// RunProxy is `network-helper proxy NSPATH SPEC...`: each SPEC is
// PROTO:HOSTIP:HOSTPORT:IP:PORT. It exits when the container's namespace
// file NSPATH is gone (or replaced), so that a container whose monitor was
// killed leaves no proxy.
func RunProxy(nsPath string, specs []string, ready *os.File) error {
	var st unix.Stat_t
	if err := unix.Stat(nsPath, &st); err != nil {
		fmt.Fprintf(ready, "namespace %s: %v\n", nsPath, err)
		return err
	}
	var closers []io.Closer
	for _, sp := range specs {
		f := strings.Split(sp, ":")
		if len(f) != 5 {
			fmt.Fprintf(ready, "bad proxy spec %q\n", sp)
			return fmt.Errorf("bad proxy spec %q", sp)
		}
		listen := net.JoinHostPort(f[1], f[2])
		target := net.JoinHostPort(f[3], f[4])
		switch f[0] {
		case "udp":
			pc, err := net.ListenPacket("udp4", listen)
			if err != nil {
				fmt.Fprintf(ready, "Bind for %s failed: port is already allocated\n", listen)
				return err
			}
			closers = append(closers, pc)
			go proxyUDP(pc, target)
		default:
			l, err := net.Listen("tcp4", listen)
			if err != nil {
				fmt.Fprintf(ready, "Bind for %s failed: port is already allocated\n", listen)
				return err
			}
			closers = append(closers, l)
			go proxyTCP(l, target)
		}
	}
	fmt.Fprintln(ready, "ok")
	ready.Close()
	for {
		time.Sleep(500 * time.Millisecond)
		var now unix.Stat_t
		if unix.Stat(nsPath, &now) != nil || now.Ino != st.Ino || now.Dev != st.Dev || !nsAlive(nsPath) {
			for _, c := range closers {
				c.Close()
			}
			return nil
		}
	}
}

func proxyTCP(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.DialTimeout("tcp4", target, 10*time.Second)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

// proxyUDP forwards datagrams, one upstream socket per client address.
func proxyUDP(pc net.PacketConn, target string) {
	conns := map[string]net.Conn{}
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		u, ok := conns[from.String()]
		if !ok {
			u, err = net.Dial("udp4", target)
			if err != nil {
				continue
			}
			conns[from.String()] = u
			go func(u net.Conn, from net.Addr) {
				b := make([]byte, 65535)
				for {
					u.SetReadDeadline(time.Now().Add(90 * time.Second))
					n, err := u.Read(b)
					if err != nil {
						u.Close()
						return
					}
					pc.WriteTo(b[:n], from)
				}
			}(u, from)
		}
		u.Write(buf[:n])
	}
}

// startResolver starts n's DNS resolver and records it in n.
func (s *Store) startResolver(n *Network) error {
	pid, err := s.spawn("resolver", n.ID)
	if err != nil {
		return fmt.Errorf("DNS resolver of network %s: %w", n.Name, err)
	}
	n.ResolverPid, n.ResolverStart = pid, proc.StartTime(pid)
	return nil
}

func resolverAlive(n *Network) bool {
	return n.ResolverPid > 0 && proc.StartTime(n.ResolverPid) == n.ResolverStart && IsHelper(n.ResolverPid, n.ID)
}

// stopResolver kills n's resolver (when it is still that process).
func stopResolver(n *Network) {
	if resolverAlive(n) {
		unix.Kill(n.ResolverPid, unix.SIGKILL)
	}
	n.ResolverPid, n.ResolverStart = 0, 0
}

// StopProxy kills the proxy with pid of the container whose namespace is
// nsPath (checked: the pid comes from a record).
func StopProxy(pid int, nsPath string) {
	if IsHelper(pid, nsPath) {
		unix.Kill(pid, unix.SIGKILL)
	}
}
