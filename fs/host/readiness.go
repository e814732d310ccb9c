package host

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// streamFile is a donated host stream (tty, pipe, socket, character
// device): a File with readiness. The sentry asks the host about its own
// descriptor with poll(2) and a zero timeout, and learns of changes from a
// host epoll instance that one sentry goroutine waits on (hostNotifier).
// Neither is passthrough: they are the sentry's own calls on a descriptor
// it owns, made to implement the application's poll/select/epoll.
//
// Lock order: streamFile.mu, then hostNotifier.mu. The notifier goroutine
// releases hostNotifier.mu before it notifies a file's vfs.WaitQueue, so
// the queue's lock is never held with either.
type streamFile struct {
	*File
	q vfs.WaitQueue

	// mu protects watched.
	mu sync.Mutex
	// watched is set once the host descriptor is in the notifier's epoll.
	watched bool
}

// Readiness implements vfs.Waitable with a non-blocking host poll.
func (f *streamFile) Readiness(mask uint32) uint32 {
	pfd := []unix.PollFd{{Fd: int32(f.fd), Events: int16(mask & 0xffff)}}
	for {
		_, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return mask & vfs.AlwaysReady
		}
		break
	}
	return uint32(uint16(pfd[0].Revents)) & (mask | vfs.AlwaysReported)
}

// EventRegister implements vfs.Waitable; the first registration adds the
// descriptor to the host notifier.
func (f *streamFile) EventRegister(e *vfs.WaitEntry) {
	f.q.EventRegister(e)
	f.mu.Lock()
	if !f.watched {
		// A descriptor the host cannot watch (EPERM: /dev/null) is always
		// ready, so nothing is lost without notifications.
		f.watched = notifier.add(f) == nil
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
		notifier.remove(f)
		f.watched = false
	}
	f.mu.Unlock()
	f.File.Release(ctx)
}

// hostNotifier is the sentry's host epoll instance for donated streams and
// the goroutine that turns its events into vfs notifications.
type hostNotifier struct {
	once sync.Once
	epfd int
	err  error

	// mu protects files.
	mu    sync.Mutex
	files map[int32]*streamFile
}

var notifier hostNotifier

func (n *hostNotifier) start() {
	n.epfd, n.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if n.err != nil {
		return
	}
	n.files = make(map[int32]*streamFile)
	go n.run()
}

// add watches f's host descriptor, edge-triggered for every event.
func (n *hostNotifier) add(f *streamFile) error {
	n.once.Do(n.start)
	if n.err != nil {
		return n.err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(f.fd),
	}
	if err := unix.EpollCtl(n.epfd, unix.EPOLL_CTL_ADD, f.fd, &ev); err != nil {
		return err
	}
	n.files[int32(f.fd)] = f
	return nil
}

// remove stops watching f's descriptor.
func (n *hostNotifier) remove(f *streamFile) {
	n.mu.Lock()
	defer n.mu.Unlock()
	unix.EpollCtl(n.epfd, unix.EPOLL_CTL_DEL, f.fd, nil)
	delete(n.files, int32(f.fd))
}

// run waits on the host epoll for the life of the sentry.
func (n *hostNotifier) run() {
	var events [64]unix.EpollEvent
	for {
		k, err := unix.EpollWait(n.epfd, events[:], -1)
		if err != nil {
			continue // EINTR
		}
		for i := 0; i < k; i++ {
			n.mu.Lock()
			f := n.files[events[i].Fd]
			n.mu.Unlock()
			if f != nil {
				f.q.Notify(events[i].Events | vfs.EventErr | vfs.EventHUp)
			}
		}
	}
}
