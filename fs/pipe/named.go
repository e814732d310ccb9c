package pipe

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Node is the inode of a FIFO, as its filesystem keeps it: fstat of a
// FIFO description reports it.
type Node interface {
	Stat(ctx vfs.Context) (vfs.Stat, error)
}

// Named is the pipe of a FIFO inode (Linux: inode->i_pipe). The Pipe is
// made by the first open and dropped, with any data still queued, when
// the last description of the FIFO is released; in between every open of
// the FIFO shares it. A filesystem keeps one Named per FIFO inode (the
// zero value is ready) and calls Open from its Inode.Open.
type Named struct {
	// mu protects p and files.
	mu sync.Mutex
	// p is the FIFO's pipe while files > 0, else nil.
	p *Pipe
	// files counts the FIFO's descriptions, including opens that still
	// wait for a partner (Linux's pipe->files).
	files int
}

// get returns the FIFO's pipe, making it if need be, and counts a file.
func (n *Named) get() *Pipe {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil {
		n.p = &Pipe{max: DefaultSize}
	}
	n.files++
	return n.p
}

// put uncounts a file; the last one drops the pipe and its data.
func (n *Named) put() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.files--
	if n.files == 0 {
		n.p = nil
	}
}

// Open opens the FIFO whose inode is node with open(2) flags, with Linux's
// rules (fs/pipe.c fifo_open): O_RDONLY waits until a writer has opened,
// unless O_NONBLOCK; O_WRONLY waits until a reader has opened, or with
// O_NONBLOCK fails with ENXIO when there is none; O_RDWR never waits. A
// waiting open is released by an opener of the other side even if that
// one has left again, and ends with ErrInterrupted (ERESTARTSYS) when ctx
// is interrupted. The caller makes the description (vfs.StreamFile, and
// vfs.DescriptionAware gives the end its O_NONBLOCK flag).
func (n *Named) Open(ctx vfs.Context, flags uint32, node Node) (vfs.FileDescriptionImpl, error) {
	nonblock := flags&unix.O_NONBLOCK != 0
	p := n.get()
	e := &end{p: p, named: n, node: node}
	p.mu.Lock()
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		e.read = true
		p.rCounter++
		p.readers++
		p.wakePartnerLocked()
		if p.writers == 0 {
			if nonblock {
				e.wSeen = p.wCounter
			} else if err := p.waitPartnerLocked(ctx, &p.wCounter); err != nil {
				p.readers--
				p.mu.Unlock()
				p.q.Notify(allEvents)
				n.put()
				return nil, err
			}
		}
	case unix.O_WRONLY:
		if nonblock && p.readers == 0 {
			p.mu.Unlock()
			n.put()
			return nil, unix.ENXIO
		}
		e.write = true
		p.wCounter++
		p.writers++
		p.wakePartnerLocked()
		if p.readers == 0 {
			if err := p.waitPartnerLocked(ctx, &p.rCounter); err != nil {
				p.writers--
				p.mu.Unlock()
				p.q.Notify(allEvents)
				n.put()
				return nil, err
			}
		}
	default:
		e.read, e.write = true, true
		p.rCounter++
		p.wCounter++
		p.readers++
		p.writers++
		p.wakePartnerLocked()
	}
	p.mu.Unlock()
	return e, nil
}

// wakePartnerLocked wakes opens waiting for a partner (and tells pollers
// that the ends changed). p.mu is held (it comes before the wait queue's
// lock).
func (p *Pipe) wakePartnerLocked() { p.q.Notify(allEvents) }

// waitPartnerLocked waits until *cnt (p.rCounter or p.wCounter) changes:
// an opener of the other side came. p.mu is held on entry and on return.
// Like Linux's wait_for_partner, a change that raced with an interruption
// wins.
func (p *Pipe) waitPartnerLocked(ctx vfs.Context, cnt *uint64) error {
	cur := *cnt
	for cur == *cnt {
		if err := p.q.WaitLocked(ctx, allEvents, &p.mu); err != nil {
			if cur != *cnt {
				return nil
			}
			return err
		}
	}
	return nil
}
