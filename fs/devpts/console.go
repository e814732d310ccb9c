package devpts

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// The sandbox's own use of a terminal: runsc's console opens a master
// through the VFS (/dev/pts/ptmx), finds its Terminal with TerminalOf,
// unlocks it, opens /dev/pts/N as the stdio of the process it starts,
// and relays the master's bytes to and from a host terminal. Window size
// changes of the host terminal are applied with SetWindowSize, which
// sends SIGWINCH as TIOCSWINSZ does.

// TerminalOf returns the terminal whose master fd is, or nil when fd is
// not a devpts master.
func TerminalOf(fd *vfs.FileDescription) *Terminal {
	if m, ok := fd.Impl().(*masterFile); ok {
		return m.t
	}
	return nil
}

// Index is N of /dev/pts/N.
func (t *Terminal) Index() uint32 { return t.index }

// Unlock is unlockpt(3) (TIOCSPTLCK 0): the replica may be opened.
func (t *Terminal) Unlock() {
	t.mu.Lock()
	t.locked = false
	t.mu.Unlock()
}

// Control is the terminal's job-control state, for
// kernel.InitConfig.CTTY.
func (t *Terminal) Control() *kernel.TTYControl { return t.ctl }

// SetWindowSize is TIOCSWINSZ from outside the sandbox: a change sends
// SIGWINCH to the foreground process group.
func (t *Terminal) SetWindowSize(ws unix.Winsize) {
	t.mu.Lock()
	changed := ws != t.ws
	t.ws = ws
	t.mu.Unlock()
	if changed {
		t.signal(unix.SIGWINCH)
	}
}
