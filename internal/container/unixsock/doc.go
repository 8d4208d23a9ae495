// Package unixsock owns unix socket paths in directories whose path may be
// too long for a sockaddr_un (108 bytes): such a socket is reached through
// /proc/self/fd/N/NAME, N an open O_PATH descriptor of the directory. The
// container's attach, console and slirp4netns API sockets use it. It owns
// no on-disk layout: callers name the directory and the socket.
package unixsock
