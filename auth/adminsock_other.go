//go:build !linux

package auth

import "net"

// peerAllowed relies on the socket's file mode (0600) where the peer's
// credentials are not read.
func peerAllowed(net.Conn) error { return nil }
