// Package console owns the host side of a container's terminal: the host
// pseudo-terminal pair that runsc opens for a process with
// process.terminal (or exec --tty), the console socket protocol that hands
// its master to the client (runc's: one SCM_RIGHTS descriptor with the
// master's name, "/dev/ptmx", as the payload), raw mode and window sizes
// of host terminals, and the relay between the caller's own terminal and
// the master when there is no console socket.
//
// The replica of the host pair goes to the sandbox, which relays its bytes
// to and from a terminal of the sentry's own devpts (runsc/boot): the
// application only ever sees the sentry's terminal.
package console

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// MasterName is the name runc sends with the master: containerd/console
// opens it as /dev/ptmx, and clients that use RecvFd keep the name.
const MasterName = "/dev/ptmx"

// NewPty opens a new host pseudo-terminal: the master (close-on-exec,
// named MasterName) and its unlocked replica (close-on-exec, O_NOCTTY).
func NewPty() (master, replica *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), MasterName)
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	rfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return master, os.NewFile(uintptr(rfd), name), nil
}

// Socket is a connection to a client's console socket.
type Socket struct {
	c *net.UnixConn
}

// Dial connects to the console socket at path. Callers dial before they
// create anything, so that a bad path leaves nothing behind; the error
// reads as runc's ("dial unix PATH: connect: no such file or directory").
func Dial(path string) (*Socket, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	return &Socket{c: c}, nil
}

// SendMaster sends master over the socket (SCM_RIGHTS, one descriptor)
// with its name as the message, then closes the socket. The caller keeps
// master and should close it once sent: the client owns it.
func (s *Socket) SendMaster(master *os.File) error {
	defer s.c.Close()
	oob := unix.UnixRights(int(master.Fd()))
	if _, _, err := s.c.WriteMsgUnix([]byte(master.Name()), oob, nil); err != nil {
		return fmt.Errorf("sending the console to the console socket: %w", err)
	}
	return nil
}

// Close closes a socket whose master was not sent.
func (s *Socket) Close() { s.c.Close() }

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// MakeRaw puts the terminal fd in raw mode (cfmakeraw(3)) and returns
// what restores its previous settings.
func MakeRaw(fd int) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() error { return unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// WindowSize returns the window size of the terminal fd.
func WindowSize(fd int) (unix.Winsize, error) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return unix.Winsize{}, err
	}
	return *ws, nil
}

// SetWindowSize sets the window size of the terminal fd (the kernel sends
// SIGWINCH to its foreground process group when it changes).
func SetWindowSize(fd int, ws unix.Winsize) error {
	return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &ws)
}

// CopyWindowSize gives to's terminal the window size of from's, when from
// is a terminal.
func CopyWindowSize(to, from int) error {
	ws, err := WindowSize(from)
	if err != nil {
		return err
	}
	return SetWindowSize(to, ws)
}

// Attachment relays between the caller's stdin and stdout and the host
// master of a container's terminal, as runc does for a terminal without a
// console socket: stdin (when it is a terminal) is put in raw mode, so
// that ^C and the like reach the container's line discipline as bytes.
type Attachment struct {
	master  *os.File
	in, out *os.File
	restore func() error
	done    chan struct{}
	once    sync.Once
}

// Attach starts relaying; master is owned by the Attachment from now on.
// The window size of in's terminal is given to master now and by Resize.
func Attach(master, in, out *os.File) *Attachment {
	a := &Attachment{master: master, in: in, out: out, done: make(chan struct{})}
	if IsTerminal(int(in.Fd())) {
		CopyWindowSize(int(master.Fd()), int(in.Fd()))
		if r, err := MakeRaw(int(in.Fd())); err == nil {
			a.restore = r
		}
	}
	go func() {
		// Until the replica's last holder has closed it: the master
		// then reads EIO.
		io.Copy(out, master)
		close(a.done)
	}()
	go func() {
		// Blocks in a read of the caller's stdin; the process exits
		// without waiting for it.
		io.Copy(master, in)
	}()
	return a
}

// Resize gives master the window size of the caller's terminal (on
// SIGWINCH).
func (a *Attachment) Resize() {
	CopyWindowSize(int(a.master.Fd()), int(a.in.Fd()))
}

// WaitTimeout waits until the container side has closed the terminal
// and everything it wrote is out, or for d at most (a process that
// inherited the terminal may outlive the one waited for), then restores
// the caller's terminal.
func (a *Attachment) WaitTimeout(d time.Duration) {
	select {
	case <-a.done:
	case <-time.After(d):
	}
	a.Close()
}

// Close restores the caller's terminal (idempotent); the master is left
// for the process' exit to close.
func (a *Attachment) Close() {
	a.once.Do(func() {
		if a.restore != nil {
			a.restore()
		}
	})
}

// ErrDetachedTTY is runc's error for a terminal that nobody would own.
var ErrDetachedTTY = errors.New("cannot allocate tty if runc will detach without setting console socket")
