// Package control owns the channel between the runsc CLI and a running
// sandbox: a unix stream socket in the container's state directory, one
// JSON request and one JSON response per connection. The protocol is
// versioned; a peer that speaks another version gets an error, never a
// guess. Exec's stdio, or the host terminal of its console, travels as
// SCM_RIGHTS descriptors on the same socket.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Version is the protocol version this package speaks.
const Version = 1

// Commands.
const (
	// CmdStart runs the container's init (once).
	CmdStart = "start"
	// CmdSignal sends Request.Signal to the init, or to every process
	// when Request.All.
	CmdSignal = "signal"
	// CmdWait answers when the init has exited, with its exit status.
	CmdWait = "wait"
	// CmdExec starts Request.Process in the running container, with
	// the three FDs sent along (SCM_RIGHTS) as its stdin, stdout and
	// stderr, or with one, the host terminal of its console;
	// Response.Pid is its pid in the sandbox.
	CmdExec = "exec"
	// CmdWaitPid answers when the process Request.Pid started by
	// CmdExec has exited, with its exit status.
	CmdWaitPid = "waitpid"
	// CmdPause freezes every process of the container; CmdResume thaws
	// them. On the sandbox's socket they act on the whole sandbox; on a
	// joined container's (pod.go), on that container's processes alone.
	CmdPause  = "pause"
	CmdResume = "resume"
	// CmdResize makes the sandbox read the window size of the host
	// terminals of its consoles again and apply it to its own terminals
	// (SIGWINCH to their foreground groups); runsc exec --tty sends it
	// when the caller's terminal is resized.
	CmdResize = "resize"
	// CmdStats answers with Response.Stats, from the sentry's own
	// accounting.
	CmdStats = "stats"
	// CmdUpdate changes the limits the sentry enforces to
	// Request.Limits (runsc update). A joined container (pod.go) has a
	// pids limit of its own but no memory limit: the memory file is
	// accounted for the whole sandbox, and a memory limit is refused.
	CmdUpdate = "update"
	// CmdSignalExec sends Request.Signal to the process Request.Pid
	// started by CmdExec on the same socket (not yet waited for): the
	// host stand-in of an exec'd process forwards the signals it gets
	// with it (runsc/cmd/standin.go).
	CmdSignalExec = "signalexec"
)

// Limits are the container's resource limits the sentry enforces; a nil
// field is left as it is.
type Limits struct {
	// MemoryBytes limits the application's memory (0: none).
	MemoryBytes *uint64 `json:"memoryBytes,omitempty"`
	// Pids limits the number of tasks (0: none).
	Pids *int64 `json:"pids,omitempty"`
}

// Stats are a container's resource figures.
type Stats struct {
	// Pids counts the live tasks.
	Pids int `json:"pids"`
	// MemoryUsage is the memory file's allocated bytes (all application
	// memory: anonymous, tmpfs, page cache of the sentry's files).
	MemoryUsage uint64 `json:"memoryUsage"`
	// CPUUser and CPUKernel are the processes' CPU times in nanoseconds.
	CPUUser   uint64 `json:"cpuUser"`
	CPUKernel uint64 `json:"cpuKernel"`
	// MemoryLimit and PidsLimit are the limits the sentry enforces
	// (0: none).
	MemoryLimit uint64 `json:"memoryLimit,omitempty"`
	PidsLimit   int64  `json:"pidsLimit,omitempty"`
}

// Request is what the CLI sends.
type Request struct {
	Version int    `json:"version"`
	Cmd     string `json:"cmd"`
	Signal  int    `json:"signal,omitempty"`
	All     bool   `json:"all,omitempty"`
	Pid     int    `json:"pid,omitempty"`
	// Process is a runtime-spec process (CmdExec).
	Process json.RawMessage `json:"process,omitempty"`
	// Limits are the new limits (CmdUpdate).
	Limits *Limits `json:"limits,omitempty"`
	// Container is the configuration of a container joining the
	// sandbox (CmdCreate, pod.go).
	Container json.RawMessage `json:"container,omitempty"`
	// Hold says that the caller holds the connection open until the
	// answer and that its close before then means the caller died: the
	// server closes Hangup when it sees that. CmdWait and CmdWaitPid
	// with Hold are a host stand-in's: the process it stands for is
	// killed (SIGKILL) when it goes away.
	Hold bool `json:"hold,omitempty"`
	// Hangup is set by the server for a request with Hold: it is closed
	// once the caller's end of the connection is closed while the
	// handler runs.
	Hangup <-chan struct{} `json:"-"`
}

// Response is what the sandbox answers. Error is empty on success.
type Response struct {
	Version    int    `json:"version"`
	Error      string `json:"error,omitempty"`
	ExitStatus int    `json:"exitStatus,omitempty"`
	Pid        int    `json:"pid,omitempty"`
	Stats      *Stats `json:"stats,omitempty"`
	// Processes are the container's processes (CmdProcesses, pod.go).
	Processes []Process `json:"processes,omitempty"`
	// Signal is the signal that ended the process waited for (CmdWait
	// of a joined container, CmdWaitPid), 0 when it exited: ExitStatus
	// is then 128+Signal.
	Signal int `json:"signal,omitempty"`
}

// Handler serves one request; it may block (CmdWait does). files are the
// descriptors sent with the request; the handler owns them.
type Handler func(r Request, files []*os.File) Response

// Server accepts connections on a control socket until Close.
type Server struct {
	ln   *net.UnixListener
	path string
	// rawFD is the listening socket of a Server made by Serve (ln is
	// nil then).
	rawFD int
	wg    sync.WaitGroup // the accept loop
	cwg   sync.WaitGroup // connections being served
}

// Listen creates the socket at path (mode 0600) and serves each
// connection in its own goroutine with h.
func Listen(path string, h Handler) (*Server, error) {
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
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &Server{ln: ln, path: path}
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

// conn is a connection being served: a *net.UnixConn, or a rawConn
// (pod.go).
type conn interface {
	ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error)
	io.Writer
	// CloseRead shuts the reading side down: a read blocked in
	// ReadMsgUnix returns.
	CloseRead() error
	Close() error
}

// maxRequest bounds a request's size.
const maxRequest = 1 << 20

func serve(c conn, h Handler) {
	defer c.Close()
	var resp Response
	req, files, err := readRequest(c)
	if err != nil {
		resp.Error = fmt.Sprintf("bad request: %v", err)
	} else if req.Version != Version {
		resp.Error = fmt.Sprintf("control protocol version %d not supported (want %d)", req.Version, Version)
	} else {
		var stop func()
		if req.Hold {
			req.Hangup, stop = watchHangup(c)
		}
		resp = h(req, files)
		files = nil
		if stop != nil {
			stop()
		}
	}
	for _, f := range files {
		f.Close()
	}
	resp.Version = Version
	_ = json.NewEncoder(c).Encode(&resp)
}

// watchHangup reads c, whose caller sends nothing after its request,
// until its end is closed (end of file or an error), and then closes the
// returned channel. stop ends the watch (the reading side is shut down,
// the writing side stays for the answer) and returns once the reader
// has returned, so that c may be closed without a read left on it.
func watchHangup(c conn) (<-chan struct{}, func()) {
	hup := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [64]byte
		for {
			n, _, _, _, err := c.ReadMsgUnix(b[:], nil)
			if err != nil || n == 0 {
				close(hup)
				return
			}
		}
	}()
	return hup, func() {
		c.CloseRead()
		<-done
	}
}

// readRequest reads one newline-terminated JSON request and the
// descriptors that came with it.
func readRequest(c conn) (Request, []*os.File, error) {
	var req Request
	var files []*os.File
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*16))
	for !bytes.Contains(buf, []byte{'\n'}) {
		if len(buf) > maxRequest {
			return req, files, errors.New("request too long")
		}
		n, oobn, _, _, err := c.ReadMsgUnix(chunk, oob)
		if oobn > 0 {
			msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr == nil {
				for _, m := range msgs {
					fds, _ := unix.ParseUnixRights(&m)
					for _, fd := range fds {
						files = append(files, os.NewFile(uintptr(fd), "control"))
					}
				}
			}
		}
		buf = append(buf, chunk[:n]...)
		if err != nil {
			if err == io.EOF && n == 0 {
				for _, f := range files {
					f.Close()
				}
				return req, nil, io.ErrUnexpectedEOF
			}
			if err != io.EOF {
				for _, f := range files {
					f.Close()
				}
				return req, nil, err
			}
		}
	}
	if err := json.Unmarshal(buf[:bytes.IndexByte(buf, '\n')], &req); err != nil {
		for _, f := range files {
			f.Close()
		}
		return req, nil, err
	}
	return req, files, nil
}

// KeepSocket makes Close leave the socket file in place: a fenced sandbox
// (runsc/fence) can no longer reach it by path, and `runsc delete`
// removes it with the state directory.
func (s *Server) KeepSocket() {
	s.ln.SetUnlinkOnClose(false)
	s.path = ""
}

// Close stops accepting connections, removes the socket and gives the
// connections being served up to two seconds to send their answers (a
// waiter must learn the exit status before the sandbox process exits).
func (s *Server) Close() {
	s.closeListener()
	s.wg.Wait()
	if s.path != "" {
		_ = os.Remove(s.path)
	}
	done := make(chan struct{})
	go func() {
		s.cwg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// ErrUnreachable wraps failures to reach the sandbox (it is gone).
var ErrUnreachable = errors.New("sandbox unreachable")

// Call sends req to the socket at path and returns the answer. A
// non-empty Response.Error is returned as an error. timeout bounds the
// whole exchange; zero means none (CmdWait).
func Call(path string, req Request, timeout time.Duration) (Response, error) {
	return CallWithFiles(path, req, nil, timeout)
}

// CallWithFiles is Call with descriptors sent along (SCM_RIGHTS).
func CallWithFiles(path string, req Request, files []*os.File, timeout time.Duration) (Response, error) {
	p, err := Send(path, req, files, timeout)
	if err != nil {
		return Response{}, err
	}
	defer p.Close()
	return p.Wait()
}

// Pending is a request sent (by Send) whose answer has not been read.
type Pending struct {
	c *net.UnixConn
}

// Send sends req to the socket at path, with files (SCM_RIGHTS), and
// returns without reading the answer: once it returns, the server has
// the request (it reads it even if the caller dies now). timeout bounds
// the whole exchange, Wait included; zero means none. The caller must
// Close the result.
func Send(path string, req Request, files []*os.File, timeout time.Duration) (*Pending, error) {
	req.Version = Version
	addr, release, err := shortPath(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	release()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if timeout > 0 {
		c.SetDeadline(time.Now().Add(timeout))
	}
	b, err := json.Marshal(&req)
	if err != nil {
		c.Close()
		return nil, err
	}
	b = append(b, '\n')
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(b, oob, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return &Pending{c: c}, nil
}

// Close closes the connection; for a request with Hold before its
// answer, the server sees the hang-up.
func (p *Pending) Close() error { return p.c.Close() }

// Wait reads the answer. A non-empty Response.Error is returned as an
// error; a connection closed without an answer is ErrUnreachable.
func (p *Pending) Wait() (Response, error) {
	var resp Response
	if err := json.NewDecoder(p.c).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// maxSocketPath is the room in sockaddr_un's sun_path, less the NUL.
const maxSocketPath = 107

// shortPath returns a name for the socket at path that fits in a
// sockaddr_un: path itself, or for a long one (a containerd --root with a
// 64-character id) the path through an O_PATH descriptor of its directory
// (/proc/self/fd/N/NAME), valid until release is called.
func shortPath(path string) (string, func(), error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	dir, base := filepath.Split(path)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, base), func() { unix.Close(fd) }, nil
}
