package unix

import "github.com/rampart-sandbox/rampart/fs/vfs"

// The collector frees sockets that only messages in flight refer to, as
// Linux's unix_gc does. A socket sent with SCM_RIGHTS over itself, or two
// sent over each other, and then closed by the process, keep each other
// open from their receive queues: no descriptor reaches them any more,
// yet they would hold their names, their queued data and their share of
// the sender's in-flight limit forever.
//
// countInflightLocked keeps, for each socket of the family, how many
// queued messages hold a reference to it (endpoint.inflight), and the set
// of those that some message holds (Family.sent). A socket all of whose
// references are such (its file's count equals inflight) is a candidate;
// it is garbage unless a socket outside the candidates, or a candidate
// reachable from one, has it queued. Garbage sockets' queues are emptied,
// which drops the references that kept the cycle alive.

// countInflightLocked adds d to the in-flight count of each socket of fam
// among rs.
//
// Preconditions: fam.mu is locked.
func (fam *Family) countInflightLocked(rs []*vfs.FileDescription, d int) {
	for _, f := range rs {
		e, ok := f.Impl().(*endpoint)
		if !ok || e.fam != fam {
			continue
		}
		e.inflight += d
		if e.inflight > 0 {
			fam.sent[e] = struct{}{}
		} else {
			delete(fam.sent, e)
		}
	}
}

// queuedSockets calls fn for every socket of fam that a message queued on
// e holds, including those queued on the connections waiting in e's
// accept queue (Linux counts an embryo's queue as its listener's).
//
// Preconditions: fam.mu is locked.
func (fam *Family) queuedSockets(e *endpoint, fn func(*endpoint)) {
	walk := func(q *endpoint) {
		for i := 0; i < q.rq.Count(); i++ {
			for _, f := range q.rq.At(i).Rights {
				if t, ok := f.Impl().(*endpoint); ok && t.fam == fam {
					fn(t)
				}
			}
		}
	}
	walk(e)
	for _, s := range e.acceptQ {
		walk(s)
	}
}

// collectLocked empties the queues (and accept queues) of the sockets
// that only unreachable messages refer to, and appends the files dropped
// to drop, for the caller to release once mu is unlocked.
//
// Preconditions: fam.mu is locked.
func (fam *Family) collectLocked(drop []*vfs.FileDescription) []*vfs.FileDescription {
	// outside[c] ends as the references to candidate c that no
	// candidate's queue holds.
	outside := make(map[*endpoint]int64)
	for e := range fam.sent {
		if !e.released && e.fd.ReadRefs() == int64(e.inflight) {
			outside[e] = int64(e.inflight)
		}
	}
	if len(outside) == 0 {
		return drop
	}
	for c := range outside {
		fam.queuedSockets(c, func(t *endpoint) {
			if _, ok := outside[t]; ok {
				outside[t]--
			}
		})
	}
	live := make(map[*endpoint]bool)
	var stack []*endpoint
	for c, n := range outside {
		if n > 0 {
			stack = append(stack, c)
		}
	}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[c] {
			continue
		}
		live[c] = true
		fam.queuedSockets(c, func(t *endpoint) {
			if _, ok := outside[t]; ok && !live[t] {
				stack = append(stack, t)
			}
		})
	}
	for c := range outside {
		if live[c] {
			continue
		}
		drop = fam.drainLocked(c, drop)
		for _, s := range c.acceptQ {
			drop = fam.drainLocked(s, drop)
			drop = append(drop, s.fd)
		}
		c.acceptQ = nil
	}
	return drop
}

// DescriptorClosed implements vfs.CloseWatcher: closing a descriptor of a
// socket that is in flight may leave it only the messages' references,
// and Linux collects such a socket soon after the close.
func (e *endpoint) DescriptorClosed(ctx vfs.Context) { e.fam.collect(ctx) }

// collect runs the collector if a socket is in flight, as Linux's does
// when a Unix socket is released or a descriptor of one closed. A release during the collection (of
// the files it drops) does not start another: what those files' queues
// held was dropped with them.
func (fam *Family) collect(ctx vfs.Context) {
	fam.mu.Lock()
	if len(fam.sent) == 0 || fam.collecting {
		fam.mu.Unlock()
		return
	}
	fam.collecting = true
	drop := fam.collectLocked(nil)
	fam.mu.Unlock()
	releaseAll(ctx, drop)
	fam.mu.Lock()
	fam.collecting = false
	fam.mu.Unlock()
}
