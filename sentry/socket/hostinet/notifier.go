package hostinet

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// notifier is one stack's host epoll instance for its host sockets, and
// the goroutine that turns the host's readiness edges into notifications
// of the sockets' vfs.WaitQueues.
//
// Lock order: notifier.mu is a leaf; run releases it before notifying.
type notifier struct {
	once sync.Once
	epfd int
	err  error

	// mu protects eps.
	mu  sync.Mutex
	eps map[int32]*endpoint
}

func (n *notifier) start() {
	n.epfd, n.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if n.err != nil {
		return
	}
	n.eps = make(map[int32]*endpoint)
	go n.run()
}

// add watches e's host descriptor, edge-triggered for every event.
func (n *notifier) add(e *endpoint) error {
	n.once.Do(n.start)
	if n.err != nil {
		return n.err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(e.hfd),
	}
	if err := unix.EpollCtl(n.epfd, unix.EPOLL_CTL_ADD, e.hfd, &ev); err != nil {
		return err
	}
	n.eps[int32(e.hfd)] = e
	return nil
}

// remove stops watching e's descriptor (before it is closed).
func (n *notifier) remove(e *endpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.eps[int32(e.hfd)] == e {
		unix.EpollCtl(n.epfd, unix.EPOLL_CTL_DEL, e.hfd, nil)
		delete(n.eps, int32(e.hfd))
	}
}

// run waits on the host epoll for the life of the sentry.
func (n *notifier) run() {
	var events [64]unix.EpollEvent
	for {
		k, err := unix.EpollWait(n.epfd, events[:], -1)
		if err != nil {
			continue // EINTR
		}
		for i := 0; i < k; i++ {
			n.mu.Lock()
			e := n.eps[events[i].Fd]
			n.mu.Unlock()
			if e != nil {
				e.Notify(events[i].Events | vfs.EventErr | vfs.EventHUp)
			}
		}
	}
}
