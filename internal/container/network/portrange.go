package network

import (
	"errors"
	"strconv"
	"strings"
)

// PortRange is a PORT[/PROTO] or START-END[/PROTO] argument (ps's publish=
// and expose= filters, --expose); Proto "" means any.
type PortRange struct {
	Lo, Hi int
	Proto  string
}

// ParsePortRange reads a PortRange. A bad number gets strconv's error (as
// docker's messages quote it), an end before the start ErrPortOrder.
func ParsePortRange(v string) (PortRange, error) {
	ports, proto, _ := strings.Cut(v, "/")
	a, b, isRange := strings.Cut(ports, "-")
	lo, err := strconv.ParseUint(a, 10, 16)
	hi := lo
	if err == nil && isRange {
		hi, err = strconv.ParseUint(b, 10, 16)
	}
	if err != nil {
		return PortRange{}, err
	}
	if hi < lo {
		return PortRange{}, ErrPortOrder
	}
	return PortRange{Lo: int(lo), Hi: int(hi), Proto: proto}, nil
}

// ErrPortOrder is ParsePortRange's error for START-END with END < START.
var ErrPortOrder = errors.New("port range ends before it starts")

// Has reports whether port/proto is in the range.
func (r PortRange) Has(port int, proto string) bool {
	return port >= r.Lo && port <= r.Hi && (r.Proto == "" || r.Proto == proto)
}
