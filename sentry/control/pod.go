package control

import (
	"fmt"
	"net"
	"os"
)

// Pods: a sandbox runs more than one container (runsc/boot/container.go).
// The first one's control socket is the sandbox's; each container that
// joins it gets a control socket of its own in its own state directory,
// which the CLI creates (the fenced sandbox cannot make host paths) and
// hands over, listening, with CmdCreate. Every command sent on it (start,
// signal, wait, exec, stats, ...) is about that container alone.
const (
	// CmdCreate, on the sandbox's socket, adds the container described
	// by Request.Container to the sandbox. The descriptors sent along are
	// its stdin, stdout and stderr, its status file, its listening
	// control socket (ListenFile), then its gofer connections: the
	// root's, then one per bind mount.
	CmdCreate = "create"
	// CmdDestroy, on a joined container's socket, kills its processes,
	// unmounts its tree, closes its gofer connections and its socket.
	CmdDestroy = "destroy"
)

// ListenFile creates a listening control socket at path (mode 0600), as
// Listen does, and returns it as a file to send to the sandbox with
// CmdCreate. The socket file stays when the returned file is closed.
func ListenFile(path string) (*os.File, error) {
	_ = os.Remove(path)
	addr, release, err := shortPath(path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer release()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	defer ln.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("control socket: %w", err)
	}
	f, err := ln.File()
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return f, nil
}

// Serve serves the listening socket f (from ListenFile) with h, as Listen
// does; f is the caller's to close. Close leaves the socket file in place.
func Serve(f *os.File, h Handler) (*Server, error) {
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("control socket: not a unix socket")
	}
	ln.SetUnlinkOnClose(false)
	s := &Server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			s.cwg.Add(1)
			go func() {
				defer s.cwg.Done()
				serve(c, h)
			}()
		}
	}()
	return s, nil
}
