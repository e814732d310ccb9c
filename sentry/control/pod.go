package control

import (
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
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
	// CmdProcesses answers with Response.Processes: the container's
	// processes as the sandbox sees them; on the sandbox's socket with
	// Request.All, those of every container in the sandbox.
	CmdProcesses = "processes"
)

// Process is one process of a container, with the sandbox's ids.
type Process struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	UID  uint32 `json:"uid"`
	Cmd  string `json:"cmd"`
	// HostPID is the pid, in the sandbox process' PID namespace, of the
	// host process in which the process' instructions run (its address
	// space's stub; platform.HostProcess), 0 if none. Processes that
	// share an address space share it.
	HostPID int `json:"hostPid,omitempty"`
	// Container is the id of the container the process belongs to (""
	// for the sandbox's first).
	Container string `json:"container,omitempty"`
}

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
// does, until Close; f is the caller's to close, and Close leaves the
// socket file in place. It is made for the fenced sandbox: the socket is
// driven with accept4, recvmsg, write and shutdown alone (Go's net
// package would ask the host for the peer's address of a socket it did
// not accept itself, which the sentry's seccomp filter refuses).
func Serve(f *os.File, h Handler) (*Server, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &Server{rawFD: fd}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			// A blocking accept: Close wakes it with shutdown.
			cfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				return
			}
			s.cwg.Add(1)
			go func() {
				defer s.cwg.Done()
				serve(rawConn(cfd), h)
			}()
		}
	}()
	return s, nil
}

// rawConn is a connection accepted by Serve, in blocking mode.
type rawConn int

func (c rawConn) ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error) {
	for {
		n, oobn, flags, _, err = unix.Recvmsg(int(c), b, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil && n == 0 && oobn == 0 {
		err = io.EOF
	}
	return n, oobn, flags, nil, err
}

func (c rawConn) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Write(int(c), b[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

func (c rawConn) CloseRead() error { return unix.Shutdown(int(c), unix.SHUT_RD) }

func (c rawConn) Close() error { return unix.Close(int(c)) }

// closeListener stops the accept loop: Listen's listener is closed;
// Serve's socket is shut down (which wakes a blocked accept4; a close
// would not), and closed once the loop has returned.
func (s *Server) closeListener() {
	if s.ln != nil {
		s.ln.Close()
		return
	}
	unix.Shutdown(s.rawFD, unix.SHUT_RDWR)
	go func() {
		s.wg.Wait()
		unix.Close(s.rawFD)
	}()
}
