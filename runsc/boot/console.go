package boot

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/devpts"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/runsc/console"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// ConsoleFD is the descriptor on which an OCI sandbox whose process has
// a terminal finds the replica of the host pseudo-terminal whose master
// the client owns (the starter passes it as its third extra file, and
// makes it the sandbox process' controlling terminal, so that the host
// sends the sandbox SIGWINCH when the client resizes it).
const ConsoleFD = 5

// hostConsole relays between a host terminal (the replica of a host
// pair, in raw mode) and a terminal of the sentry's devpts, whose replica
// is a process' stdio and controlling terminal. Two goroutines carry the
// bytes: one blocked (in the Go runtime's poller, not spinning) in a read
// of the host descriptor, the other blocked in a read of the devpts
// master. The relay ends when every holder of the devpts replica has
// closed it (the master reads EIO): the host descriptor is then closed,
// and the client, once the last host holder is gone, reads EIO from its
// master as with runc. If the client hangs up first, the devpts master
// is closed, which hangs up the sentry's terminal.
type hostConsole struct {
	host   *os.File // non-blocking, in the Go poller
	master *vfs.FileDescription
	term   *devpts.Terminal
	ctx    relayCtx

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// relayCtx is the vfs.Context of the relay goroutines: root
// credentials, no application memory, interrupted by stop.
type relayCtx struct {
	creds *auth.Credentials
	stop  chan struct{}
}

func (c relayCtx) Credentials() *auth.Credentials      { return c.creds }
func (c relayCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c relayCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// InterruptChan implements vfs.Interruptible.
func (c relayCtx) InterruptChan() <-chan struct{} { return c.stop }

// openConsole takes hostFD (the caller keeps it), opens a devpts terminal
// owned by creds and starts the relay. It returns the console and the
// replica to install as the process' stdin, stdout and stderr (the
// caller's reference).
func (f *filesystems) openConsole(creds *auth.Credentials, hostFD int) (*hostConsole, *vfs.FileDescription, error) {
	fd, err := unix.FcntlInt(uintptr(hostFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	if _, err := console.MakeRaw(fd); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("console: the host descriptor is not a terminal: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	host := os.NewFile(uintptr(fd), "console")

	ctx := bootCtx{creds}
	open := func(path string) (*vfs.FileDescription, error) {
		return f.vfs.OpenAt(ctx, &vfs.PathOperation{Root: f.root, Start: f.root, Path: path},
			&vfs.OpenOptions{Flags: unix.O_RDWR | unix.O_NOCTTY})
	}
	master, err := open("/dev/pts/ptmx")
	if err != nil {
		host.Close()
		return nil, nil, fmt.Errorf("console: opening /dev/pts/ptmx: %w", err)
	}
	term := devpts.TerminalOf(master)
	if term == nil {
		master.DecRef(ctx)
		host.Close()
		return nil, nil, errors.New("console: /dev/pts/ptmx is not devpts' master")
	}
	term.Unlock()
	replica, err := open("/dev/pts/" + strconv.FormatUint(uint64(term.Index()), 10))
	if err != nil {
		master.DecRef(ctx)
		host.Close()
		return nil, nil, fmt.Errorf("console: opening the replica: %w", err)
	}
	c := &hostConsole{host: host, master: master, term: term, stop: make(chan struct{}), done: make(chan struct{})}
	c.ctx = relayCtx{creds: auth.NewRootCredentials(), stop: c.stop}
	c.syncWindowSize()
	go c.output()
	go c.input()
	return c, replica, nil
}

// output copies what the sentry's terminal writes to the host, until the
// replica's last holder has closed it.
func (c *hostConsole) output() {
	buf := make([]byte, 4096)
	for {
		n, err := c.master.Read(c.ctx, buf)
		if n > 0 {
			// An error (the client hung up) drops the bytes: reads
			// go on, so that the application never blocks on a
			// terminal nobody reads.
			c.host.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	c.shutdown()
	c.host.Close()
	c.master.DecRef(c.ctx)
	close(c.done)
}

// input copies what the client types to the sentry's terminal, through
// its line discipline (echo, ^C ...). When the client hangs up, the
// sentry's terminal is hung up too.
func (c *hostConsole) input() {
	buf := make([]byte, 4096)
	for {
		n, err := c.host.Read(buf)
		for off := 0; off < n; {
			w, werr := c.master.Write(c.ctx, buf[off:n])
			if werr != nil {
				return
			}
			off += w
		}
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				c.shutdown()
			}
			return
		}
	}
}

// shutdown interrupts the relay's blocking calls.
func (c *hostConsole) shutdown() {
	c.stopOnce.Do(func() { close(c.stop) })
}

// syncWindowSize gives the sentry's terminal the host terminal's window
// size (SIGWINCH to its foreground group when it changed).
func (c *hostConsole) syncWindowSize() {
	sc, err := c.host.SyscallConn()
	if err != nil {
		return
	}
	sc.Control(func(fd uintptr) {
		if ws, err := console.WindowSize(int(fd)); err == nil {
			c.term.SetWindowSize(ws)
		}
	})
}

// newConsoleFDTable opens a console on hostFD and returns a descriptor
// table with its replica as descriptors 0, 1 and 2.
func (f *filesystems) newConsoleFDTable(creds *auth.Credentials, hostFD int) (*vfs.FDTable, *hostConsole, error) {
	c, replica, err := f.openConsole(creds, hostFD)
	if err != nil {
		return nil, nil, err
	}
	ctx := bootCtx{creds}
	defer replica.DecRef(ctx)
	t := vfs.NewFDTable()
	for i := int32(0); i < 3; i++ {
		if err := t.InstallAt(ctx, i, replica, vfs.FDFlags{}); err != nil {
			c.shutdown()
			return nil, nil, err
		}
	}
	return t, c, nil
}

// drain waits up to d for the relay to end (every holder of the replica
// has closed it and its output is out).
func (c *hostConsole) drain(d time.Duration) {
	select {
	case <-c.done:
	case <-time.After(d):
	}
}
