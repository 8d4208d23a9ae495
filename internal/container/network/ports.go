package network

import "net"

// FreePort returns a host port (proto "tcp" or "udp") free right now, for
// -p CONTAINERPORT and -P.
func FreePort(proto string) (int, error) {
	if proto == "udp" {
		l, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
