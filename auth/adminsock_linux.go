package auth

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// adminSocketAllowed needs nothing of the data directory on Linux, where
// peerAllowed reads each peer's credentials.
func adminSocketAllowed(string) error { return nil }

// peerAllowed admits a connection to the admin socket only from a process
// of the server's own user or root: the file mode already says so, and the
// kernel's word on the peer does not depend on how the directory was made.
func peerAllowed(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("not a Unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return credErr
	}
	if cred.Uid != uint32(os.Getuid()) && cred.Uid != 0 {
		return fmt.Errorf("peer runs as uid %d", cred.Uid)
	}
	return nil
}
