package host

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Notifiable receives the readiness edges of one watched host descriptor
// (a *vfs.WaitQueue, or a type embedding one).
type Notifiable interface {
	Notify(mask uint32)
}

// Notifier is a host epoll instance and the goroutine that turns its
// edge-triggered events into notifications of sentry wait queues: how the
// sentry learns that a host descriptor it owns (a donated stream, a host
// socket of --network=host) became ready. It is not passthrough: the
// sentry waits on its own descriptors to implement the application's
// poll/select/epoll.
//
// The zero value is ready to use; the instance is created by Start or by
// the first Add. Lock order: Notifier.mu is a leaf; the goroutine releases
// it before it notifies.
type Notifier struct {
	once sync.Once
	epfd int
	err  error

	// mu protects targets.
	mu      sync.Mutex
	targets map[int32]Notifiable
}

// Start creates the epoll instance and its goroutine, once; it returns the
// error of that creation.
func (n *Notifier) Start() error {
	n.once.Do(func() {
		n.epfd, n.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if n.err != nil {
			return
		}
		n.targets = make(map[int32]Notifiable)
		go n.run()
	})
	return n.err
}

// Add watches fd, edge-triggered for every event, notifying t.
func (n *Notifier) Add(fd int, t Notifiable) error {
	if err := n.Start(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(fd),
	}
	if err := unix.EpollCtl(n.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	n.targets[int32(fd)] = t
	return nil
}

// Remove stops watching fd for t; the caller must call it before it closes
// fd (the host keeps a watch as long as the open description lives). A
// descriptor number since reused for another target is left alone.
func (n *Notifier) Remove(fd int, t Notifiable) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.targets[int32(fd)] == t {
		unix.EpollCtl(n.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		delete(n.targets, int32(fd))
	}
}

// run waits on the host epoll for the life of the sentry.
func (n *Notifier) run() {
	var events [64]unix.EpollEvent
	for {
		k, err := unix.EpollWait(n.epfd, events[:], -1)
		if err != nil {
			continue // EINTR
		}
		for i := 0; i < k; i++ {
			n.mu.Lock()
			t := n.targets[events[i].Fd]
			n.mu.Unlock()
			if t != nil {
				t.Notify(events[i].Events | vfs.EventErr | vfs.EventHUp)
			}
		}
	}
}

// PollReadiness is the host's readiness of fd for mask (with the events
// Linux always reports), from poll(2) with a zero timeout.
func PollReadiness(fd int, mask uint32) (uint32, error) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: int16(mask & 0xffff)}}
	for {
		_, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return uint32(uint16(pfd[0].Revents)) & (mask | vfs.AlwaysReported), nil
	}
}
