package unixsock

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Path returns a path for socket name in dir that fits in a sockaddr_un
// even when dir is long: /proc/self/fd/N/name through an open descriptor
// of dir, which the caller closes when done with the path (dirFd is nil
// for a short path).
func Path(dir, name string) (path string, dirFd *os.File, err error) {
	p := filepath.Join(dir, name)
	if len(p) < 100 {
		return p, nil, nil
	}
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", f.Fd(), name), f, nil
}

// ForChild returns a path from Path as another process (a child given
// it on its command line) can use it while dirFd stays open here.
func ForChild(path string, dirFd *os.File) string {
	if dirFd == nil {
		return path
	}
	return strings.Replace(path, "/proc/self/", fmt.Sprintf("/proc/%d/", os.Getpid()), 1)
}

// Dial connects to socket name in dir.
func Dial(dir, name string) (*net.UnixConn, error) {
	p, f, err := Path(dir, name)
	if err != nil {
		return nil, err
	}
	if f != nil {
		defer f.Close()
	}
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: p, Net: "unix"})
}

// Listen listens on socket name in dir, replacing a stale one; closing
// the listener does not remove the socket file.
func Listen(dir, name string) (*net.UnixListener, error) {
	p, f, err := Path(dir, name)
	if err != nil {
		return nil, err
	}
	if f != nil {
		defer f.Close()
	}
	os.Remove(filepath.Join(dir, name))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	return l, nil
}
