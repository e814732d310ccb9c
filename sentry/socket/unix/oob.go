package unix

import (
	"math"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// Out-of-band data of stream sockets, as Linux's CONFIG_AF_UNIX_OOB
// (checked against Linux 6.18 and its selftest net/af_unix/msg_oob.c).
//
// send(MSG_OOB) makes the last byte of what it sends the OOB byte: Linux
// queues it as an skb of its own and points the receiver's oob_skb at it,
// so that a later OOB send turns the earlier byte into plain data. Until
// it is taken the receiver polls POLLPRI and its owner got SIGURG.
// recv(MSG_OOB) takes it (EINVAL if there is none or SO_OOBINLINE is on)
// but leaves its skb, emptied, in the queue: the socket still polls
// readable, SIOCATMARK still says 1 there, and an ordinary read stops at
// it unless another OOB byte is pending. An ordinary read stops before the
// OOB byte when it has read something; one that starts at it takes the
// mark away and passes over the byte, which is lost (read inline with
// SO_OOBINLINE). Linux 6.18 never leaves two emptied skbs next to each
// other (unix_stream_recv_urg frees the one before), so a run of taken
// bytes behaves as one.
//
// Here the OOB byte is an ordinary byte of rq, which keeps its place in
// the stream whatever rq merges, and oobMarks records where in rq's
// unread bytes the pending one and the taken ones are. Sends without
// MSG_OOB pay a flag check, and reads of a socket that never had an OOB
// byte a nil check or two.

// oobMarks are the places in a stream's receive queue that are not plain
// data. Offsets count rq's unread bytes from the first; the family's mu
// protects them.
type oobMarks struct {
	// pending says that the byte at offset mark is the OOB byte still to
	// be taken (Linux's oob_skb).
	pending bool
	mark    int
	// taken are the offsets, ascending, of the OOB bytes that
	// recv(MSG_OOB) took and that are still in rq: no data any more.
	// They all come before mark.
	taken []int
}

// Readers' actions at a place in the queue (oobMarks.step).
const (
	// oobData: read up to n bytes of data.
	oobData = iota
	// oobStop: end the read here.
	oobStop
	// oobSkip: pass over n bytes that are no data.
	oobSkip
)

// live reports whether o marks anything.
func (o *oobMarks) live() bool { return o.pending || len(o.taken) > 0 }

// run is the number of taken bytes in a row from offset pos.
func (o *oobMarks) run(pos int) int {
	n := 0
	for _, t := range o.taken {
		if t == pos+n {
			n++
		} else if t > pos+n {
			break
		}
	}
	return n
}

// step says what a read that has copied c bytes does at offset pos, as
// Linux's manage_oob: taken bytes end a read that has data unless an OOB
// byte is pending, and are passed over otherwise; the pending OOB byte
// ends a read that has data, and is passed over by one that has none,
// unless inline, when it is read as data. Otherwise up to n bytes are
// data.
func (o *oobMarks) step(pos, c int, inline bool) (act, n int) {
	if r := o.run(pos); r > 0 {
		if c > 0 && !o.pending {
			return oobStop, 0
		}
		return oobSkip, r
	}
	if o.pending && o.mark == pos {
		switch {
		case c > 0:
			return oobStop, 0
		case inline:
			return oobData, 1
		default:
			return oobSkip, 1
		}
	}
	n = math.MaxInt
	if o.pending && o.mark > pos {
		n = o.mark - pos
	}
	for _, t := range o.taken {
		if t > pos {
			n = min(n, t-pos)
			break
		}
	}
	return oobData, n
}

// consumed shifts the marks after n bytes left the front of rq; those
// bytes must hold no mark but the ones passed over, which go.
func (o *oobMarks) consumed(n int) {
	if o.pending && o.mark < n {
		o.pending = false
	}
	o.mark -= n
	i := 0
	for _, t := range o.taken {
		if t >= n {
			o.taken[i] = t - n
			i++
		}
	}
	o.taken = o.taken[:i]
}

// oobInlineLocked reports SO_OOBINLINE.
func (e *endpoint) oobInlineLocked() bool { return e.opts[linux.SO_OOBINLINE] != 0 }

// queueOOBLocked sends the last byte of b, the rest of which e already
// sent, to its peer as the OOB byte (Linux's queue_oob): once e's send
// buffer has room, as for any skb, and only to a peer that still reads
// (EPIPE, without SIGPIPE). The peer's owner gets SIGURG.
func (e *endpoint) queueOOBLocked(ctx vfs.Context, b []byte, c *socket.ControlMessages, flags int) error {
	for e.wmem >= e.sndbuf {
		if e.nonblocking(flags) {
			return linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &e.WaitQueue, vfs.WritableEvents, e.sndTimeo); err != nil {
			return err
		}
		if e.sndShut {
			return linux.EPIPE
		}
	}
	p := e.peer
	if e.state != stateConnected || p == nil || p.released || p.rcvShut {
		return linux.EPIPE
	}
	e.settleCredsLocked(ctx, c, p)
	e.fam.charge(c.RightsUID, c.Rights)
	p.skbs = append(p.skbs, streamSKB{1, e})
	e.wmem += streamTruesize(1)
	p.rq.AppendStream(b[len(b)-1:], c)
	if p.oob == nil {
		p.oob = &oobMarks{}
	}
	p.oob.pending, p.oob.mark = true, p.rq.Bytes-1
	kernel.SendSigurg(p.fd)
	p.Notify(vfs.ReadableEvents | vfs.EventPri)
	return nil
}

// recvOOBLocked is recv(MSG_OOB) on a connected stream (Linux's
// unix_stream_recv_urg): the pending OOB byte, which MSG_PEEK leaves
// pending. As Linux, a read with no room takes it too and says 1 byte.
func (e *endpoint) recvOOBLocked(dst []byte, flags int, res *socket.RecvResult) error {
	o := e.oob
	if o == nil || !o.pending || e.oobInlineLocked() {
		return linux.EINVAL
	}
	if len(dst) > 0 {
		dst[0] = e.byteAtLocked(o.mark)
	} else {
		res.Discarded = true
	}
	res.N, res.MsgLen = 1, 1
	res.Flags |= linux.MSG_OOB
	if flags&linux.MSG_PEEK == 0 {
		o.pending = false
		o.taken = append(o.taken, o.mark)
	}
	return nil
}

// byteAtLocked returns the byte at offset off of rq's unread bytes.
func (e *endpoint) byteAtLocked(off int) byte {
	for i := 0; ; i++ {
		m := e.rq.At(i)
		d := m.Data[m.Off:]
		if off < len(d) {
			return d[off]
		}
		off -= len(d)
	}
}

// skipLocked drops the n bytes at the front of rq that are no data (taken
// or lost OOB bytes), and their marks. The files an OOB byte carried,
// when it was all its send sent, go with it, as Linux frees them with its
// skb; they are appended to drop.
func (e *endpoint) skipLocked(n int, drop []*vfs.FileDescription) []*vfs.FileDescription {
	e.oob.consumed(n)
	e.consumeSKBsLocked(n)
	for n > 0 {
		m := e.rq.Front()
		if m.Rights != nil {
			e.fam.uncharge(m.RightsUID, m.Rights)
			drop = append(drop, m.Rights...)
			m.Rights = nil
		}
		k := min(n, len(m.Data)-m.Off)
		e.rq.Consume(k)
		n -= k
	}
	return drop
}

// atMarkLocked is SIOCATMARK of a stream socket (Linux's unix_ioctl):
// whether the first thing queued is the OOB byte, or a taken one with
// nothing pending or the pending one right after it. A connection waiting
// in a listener's queue counts as an empty skb, as on Linux.
func (e *endpoint) atMarkLocked() bool {
	if e.state == stateListening {
		return len(e.acceptQ) > 0
	}
	o := e.oob
	if e.rq.Empty() || o == nil {
		return false
	}
	if o.pending && o.mark == 0 {
		return true
	}
	r := o.run(0)
	return r > 0 && (!o.pending || o.mark == r)
}

// peekOOBLocked is a MSG_PEEK read of a stream with OOB marks: as the
// plain peek of recvStreamLocked, but it stops and passes over where a
// read would (step). found is false if it found no data at all.
func (e *endpoint) peekOOBLocked(dst []byte, res *socket.RecvResult) (done int, found bool) {
	o, inline := e.oob, e.oobInlineLocked()
	pos := 0
	for i := 0; i < e.rq.Count(); i++ {
		m := e.rq.At(i)
		d := m.Data[m.Off:]
		read := false
		for len(d) > 0 {
			act, n := o.step(pos, done, inline)
			if act == oobStop {
				return done, found
			}
			n = min(n, len(d))
			if act == oobData {
				if !found {
					found = true
					if e.peer != nil {
						res.From = e.peer.addr
					}
					if e.passcred {
						res.Control.Creds, res.Control.HasCreds = m.Creds, true
					}
				} else if !read && e.passcred && m.Creds != res.Control.Creds {
					return done, found
				}
				read = true
				done += copy(dst[done:], d[:n])
			}
			d = d[n:]
			pos += n
		}
		if read && m.Rights != nil {
			res.Control.Rights = dupRights(m.Rights)
			return done, found
		}
	}
	return done, found
}
