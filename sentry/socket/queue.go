package socket

import "github.com/rampart-sandbox/rampart/fs/vfs"

// Message is one queued datagram, record or stream chunk; A is the
// family's sender address.
type Message[A any] struct {
	Data []byte
	// Off is how much of a stream chunk was already read.
	Off int
	// From is the sender's address (never modified once queued).
	From   A
	Creds  Creds
	Rights []*vfs.FileDescription
	// RightsUID is the user charged for Rights while they are in flight.
	RightsUID uint32
	// Filling marks a stream chunk whose bytes its sender is still
	// copying in without the family's lock (Reserve): it keeps its place
	// in the stream and counts against the buffer, but readers stop
	// before it until the sender commits it (Commit).
	Filling bool
}

// Queue is a receive queue: a FIFO of messages whose backing array and
// data buffers are reused, so that steady traffic does not allocate. The
// family's lock protects it.
type Queue[A any] struct {
	msgs []Message[A]
	head int
	// Bytes is the number of unread bytes.
	Bytes int
	// spare holds emptied data buffers for reuse.
	spare [][]byte
}

// Empty reports whether no message is queued.
func (q *Queue[A]) Empty() bool { return q.head == len(q.msgs) }

// Count is the number of queued messages.
func (q *Queue[A]) Count() int { return len(q.msgs) - q.head }

// Readable reports whether the oldest message may be read: one is
// queued and it is not being filled.
func (q *Queue[A]) Readable() bool { return !q.Empty() && !q.Front().Filling }

// Front returns the oldest message; the queue must not be empty.
func (q *Queue[A]) Front() *Message[A] { return &q.msgs[q.head] }

// At returns the i-th queued message (0 is Front), for MSG_PEEK.
func (q *Queue[A]) At(i int) *Message[A] { return &q.msgs[q.head+i] }

// Buf returns an empty buffer with room for n bytes.
func (q *Queue[A]) Buf(n int) []byte {
	for i := len(q.spare) - 1; i >= 0; i-- {
		if b := q.spare[i]; cap(b) >= n {
			q.spare[i] = q.spare[len(q.spare)-1]
			q.spare[len(q.spare)-1] = nil
			q.spare = q.spare[:len(q.spare)-1]
			return b[:0]
		}
	}
	return make([]byte, 0, max(n, 256))
}

// Push queues m.
func (q *Queue[A]) Push(m Message[A]) {
	if q.head > 0 && len(q.msgs) == cap(q.msgs) {
		n := copy(q.msgs, q.msgs[q.head:])
		clear(q.msgs[n:])
		q.msgs = q.msgs[:n]
		q.head = 0
	}
	q.Bytes += len(m.Data) - m.Off
	q.msgs = append(q.msgs, m)
}

// CopyUnlockedMin is the smallest stream send that a family copies
// without its lock (Reserve), so that a bulk sender's copy and its
// receiver's run at once: below it, dropping and retaking the lock costs
// more than the copy it lets overlap. (inet does; unix streams measured no
// faster on a 4 GiB socketpair transfer, 2 CPUs, and do not.)
const CopyUnlockedMin = 16 << 10

// Reserve queues a stream chunk of n bytes (n > 0) that the caller fills
// in after dropping the family's lock, and returns its buffer: a large
// send then copies while the receiver copies out what came before,
// instead of each waiting for the other's copy under the lock. Other
// senders need not wait for it (their chunks queue behind it), and
// readers stop at it. The caller must call Commit with the buffer, under
// the lock again, once the bytes are in.
func (q *Queue[A]) Reserve(n int) []byte {
	d := q.Buf(n)[:n]
	q.Push(Message[A]{Data: d, Filling: true})
	return d
}

// Commit makes readable the chunk whose buffer Reserve returned as d. It
// reports false if the chunk is no longer queued (the queue was drained:
// the receiving socket closed); its bytes are then dropped.
func (q *Queue[A]) Commit(d []byte) bool {
	for i := q.head; i < len(q.msgs); i++ {
		m := &q.msgs[i]
		if m.Filling && len(m.Data) > 0 && &m.Data[0] == &d[0] {
			m.Filling = false
			return true
		}
	}
	return false
}

// AppendStream queues stream bytes, merged into the last chunk when it
// carries the same credentials and no files. It takes c's files.
func (q *Queue[A]) AppendStream(b []byte, c *ControlMessages) {
	one := [1][]byte{b}
	q.appendStream(one[:], c)
}

// AppendStreamPieces is AppendStream of the concatenation of bs, with no
// control messages, as one chunk: a chunk a piece would leave a small
// chunk ahead of each large one, and the reused buffers would no longer
// fit the sizes asked.
func (q *Queue[A]) AppendStreamPieces(bs [][]byte) {
	var none ControlMessages
	q.appendStream(bs, &none)
}

func (q *Queue[A]) appendStream(bs [][]byte, c *ControlMessages) {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	if c.Rights == nil && !q.Empty() {
		last := &q.msgs[len(q.msgs)-1]
		if last.Rights == nil && !last.Filling && last.Creds == c.Creds && cap(last.Data)-len(last.Data) >= n {
			for _, b := range bs {
				last.Data = append(last.Data, b...)
			}
			q.Bytes += n
			return
		}
	}
	d := q.Buf(max(n, 4096))
	for _, b := range bs {
		d = append(d, b...)
	}
	q.Push(Message[A]{Data: d, Creds: c.Creds, Rights: c.Rights, RightsUID: c.RightsUID})
	c.Rights = nil
}

// Consume marks n more bytes of the front stream chunk read, dropping
// the chunk when it is used up.
func (q *Queue[A]) Consume(n int) {
	m := q.Front()
	m.Off += n
	q.Bytes -= n
	if m.Off == len(m.Data) {
		q.Pop()
	}
}

// Pop drops the front message, keeping its buffer for reuse unless a
// sender is still filling it. Its files must have been taken.
func (q *Queue[A]) Pop() {
	m := &q.msgs[q.head]
	q.Bytes -= len(m.Data) - m.Off
	if len(q.spare) < 4 && cap(m.Data) <= 64<<10 && !m.Filling {
		q.spare = append(q.spare, m.Data[:0])
	}
	*m = Message[A]{}
	q.head++
	if q.head == len(q.msgs) {
		q.msgs = q.msgs[:0]
		q.head = 0
	}
}

// Drain empties the queue and appends the files it held to drop.
func (q *Queue[A]) Drain(drop []*vfs.FileDescription) []*vfs.FileDescription {
	for !q.Empty() {
		drop = append(drop, q.Front().Rights...)
		q.Pop()
	}
	return drop
}
