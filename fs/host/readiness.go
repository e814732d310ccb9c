package host

import (
	"sync"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// streamFile is a donated host stream (tty, pipe, socket, character
// device): a File with readiness. The sentry asks the host about its own
// descriptor with poll(2) and a zero timeout, and learns of changes from a
// host epoll instance that one sentry goroutine waits on (Notifier).
// Neither is passthrough: they are the sentry's own calls on a descriptor
// it owns, made to implement the application's poll/select/epoll.
//
// Lock order: streamFile.mu, then Notifier.mu. The notifier goroutine
// releases Notifier.mu before it notifies a file's vfs.WaitQueue, so the
// queue's lock is never held with either.
type streamFile struct {
	*File
	q vfs.WaitQueue

	// mu protects watched.
	mu sync.Mutex
	// watched is set once the host descriptor is in the notifier's epoll.
	watched bool
}

// AsyncFile implements vfs.AsyncFile: a donated pipe, socket or terminal
// sends SIGIO as the host file would.
func (*streamFile) AsyncFile() {}

// Readiness implements vfs.Waitable with a non-blocking host poll.
func (f *streamFile) Readiness(mask uint32) uint32 {
	r, err := PollReadiness(f.fd, mask)
	if err != nil {
		return mask & vfs.AlwaysReady
	}
	return r
}

// EventRegister implements vfs.Waitable; the first registration adds the
// descriptor to the host notifier.
func (f *streamFile) EventRegister(e *vfs.WaitEntry) {
	f.q.EventRegister(e)
	f.mu.Lock()
	if !f.watched {
		// A descriptor the host cannot watch (EPERM: /dev/null) is always
		// ready, so nothing is lost without notifications.
		f.watched = notifier.Add(f.fd, &f.q) == nil
	}
	f.mu.Unlock()
}

// EventUnregister implements vfs.Waitable.
func (f *streamFile) EventUnregister(e *vfs.WaitEntry) { f.q.EventUnregister(e) }

// Release implements vfs.FileDescriptionImpl: the descriptor leaves the
// notifier before it is closed (the host keeps a watch as long as the
// donor's description lives, so it must be removed explicitly).
func (f *streamFile) Release(ctx vfs.Context) {
	f.mu.Lock()
	if f.watched {
		notifier.Remove(f.fd, &f.q)
		f.watched = false
	}
	f.mu.Unlock()
	f.File.Release(ctx)
}

// notifier watches the donated streams of every sandbox in this process.
var notifier Notifier
