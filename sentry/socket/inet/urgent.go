package inet

import (
	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// TCP urgent data, as Linux keeps it (tcp_check_urg, tcp_urg,
// tcp_recv_urg): send with MSG_OOB makes the last byte it queues urgent,
// and the receiver keeps one urgent mark. Unless SO_OOBINLINE is set the
// urgent byte leaves the stream, to be taken with recv(MSG_OOB); a read
// stops at the mark, SIOCATMARK says whether the reading is at it, and the
// socket polls POLLPRI until the byte is taken. A newer urgent byte moves
// the mark: the older one, unless the reading is at it, stays in the
// stream as an ordinary byte.

// The states of a receiver's urgent mark (endpoint.urg; Linux's urg_data).
// Over loopback the urgent byte comes with its pointer, so there is no
// TCP_URG_NOTYET.
const (
	urgNone  = iota // no mark
	urgValid        // the mark's byte is still to be taken
	urgRead         // it was taken with MSG_OOB
)

// oobInline reports whether SO_OOBINLINE keeps urgent bytes in the
// stream. net.mu must be held.
func (e *endpoint) oobInline() bool {
	return e.opts[[2]int{linux.SOL_SOCKET, linux.SO_OOBINLINE}] != 0
}

// urgentLocked takes a TCP peer's urgent pointer: the byte b at stream
// position seq (in e.copied's count) is urgent. The owner of e's file is
// sent SIGURG. If the reading was at an earlier mark whose byte is out of
// the stream, that byte is passed over now (tcp_check_urg). The caller
// notifies e's queue of EventPri with the data. net.mu must be held, and
// Kernel.mu not.
func (e *endpoint) urgentLocked(seq uint64, b byte) {
	if seq < e.copied || e.urg != urgNone && seq <= e.urgSeq {
		return // already read past, or not newer than the mark
	}
	kernel.SendSigurg(e.fd)
	if e.urg != urgNone && e.urgSeq == e.copied && !e.oobInline() && e.rq.Readable() {
		e.consumeLocked(1)
	}
	e.urg, e.urgSeq, e.urgByte = urgValid, seq, b
}

// lastByte returns the last byte of the concatenation of bs, which must
// not be empty.
func lastByte(bs [][]byte) byte {
	for i := len(bs) - 1; ; i-- {
		if b := bs[i]; len(b) > 0 {
			return b[len(b)-1]
		}
	}
}

// consumeLocked marks n bytes of rq's front chunk read, and the urgent
// mark gone once they pass it.
func (e *endpoint) consumeLocked(n int) {
	e.rq.Consume(n)
	e.copied += uint64(n)
	if e.urg != urgNone && e.copied > e.urgSeq {
		e.urg = urgNone
	}
}

// clipAtMarkLocked returns how much of b, unread bytes from stream
// position at, a read takes in one go: the bytes before the urgent mark,
// or, at the mark, everything with SO_OOBINLINE and otherwise nothing, the
// urgent byte being passed over (skip).
func (e *endpoint) clipAtMarkLocked(b []byte, at uint64) (_ []byte, skip bool) {
	if e.urg == urgNone || e.urgSeq < at {
		return b, false
	}
	if off := e.urgSeq - at; off == 0 {
		if !e.oobInline() {
			return nil, true
		}
	} else if off < uint64(len(b)) {
		b = b[:off]
	}
	return b, false
}

// beyondMarkLocked reports whether there is a byte to read besides an
// urgent byte that the reading is at and passes over: Linux's tcp_poll
// and MSG_PEEK want one more byte there. rq must be readable.
func (e *endpoint) beyondMarkLocked() bool {
	if e.urg == urgNone || e.urgSeq != e.copied || e.oobInline() {
		return true
	}
	if m := e.rq.Front(); len(m.Data)-m.Off > 1 {
		return true
	}
	return e.rq.Count() > 1 && !e.rq.At(1).Filling
}

// inqLocked is a TCP socket's SIOCINQ (Linux's tcp_inq): the unread
// bytes, but only those before an urgent byte that is out of the stream.
func (e *endpoint) inqLocked() int {
	if e.urg != urgNone && e.urgSeq >= e.copied && !e.oobInline() {
		return int(e.urgSeq - e.copied)
	}
	return e.rq.Bytes
}

// atMarkLocked is SIOCATMARK: the reading is at the urgent mark.
func (e *endpoint) atMarkLocked() bool {
	return e.urg != urgNone && e.urgSeq == e.copied
}

// recvUrgentLocked is recv(MSG_OOB) on a TCP socket (tcp_recv_urg): the
// urgent byte, which MSG_PEEK leaves to be taken again; with an empty
// buffer it is taken all the same, and the result is MSG_TRUNC. It never
// blocks: with no byte to take, or under SO_OOBINLINE, it is EINVAL (over
// loopback an urgent byte comes with its pointer, so Linux's EAGAIN for
// one still on its way does not arise).
func (e *endpoint) recvUrgentLocked(dst []byte, flags int, res *socket.RecvResult) error {
	if e.state == stateListening {
		return linux.ENOTCONN
	}
	if e.oobInline() || e.urg != urgValid {
		return linux.EINVAL
	}
	if e.done && !e.finRcvd {
		return linux.ENOTCONN // reset (TCP_CLOSE without SOCK_DONE)
	}
	if flags&linux.MSG_PEEK == 0 {
		e.urg = urgRead
	}
	res.Flags |= linux.MSG_OOB
	if len(dst) == 0 {
		res.Flags |= linux.MSG_TRUNC
		return nil
	}
	if flags&linux.MSG_TRUNC != 0 {
		res.Discarded = true
	} else {
		dst[0] = e.urgByte
	}
	res.N, res.MsgLen = 1, 1
	return nil
}
