package inet

import (
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// message is one queued datagram, record or stream chunk.
type message struct {
	data []byte
	// off is how much of a stream chunk was already read.
	off int
	// from is the sender's address (shared, never modified).
	from   addr
	creds  socket.Creds
	rights []*vfs.FileDescription
}

// queue is a receive queue: a FIFO of messages whose backing array and
// data buffers are reused, so that steady traffic does not allocate.
// Protected by mu.
type queue struct {
	msgs []message
	head int
	// bytes is the number of unread bytes.
	bytes int
	// spare holds emptied data buffers for reuse.
	spare [][]byte
}

func (q *queue) empty() bool { return q.head == len(q.msgs) }

func (q *queue) count() int { return len(q.msgs) - q.head }

func (q *queue) front() *message { return &q.msgs[q.head] }

// buf returns an empty buffer with room for n bytes.
func (q *queue) buf(n int) []byte {
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

func (q *queue) push(m message) {
	if q.head > 0 && len(q.msgs) == cap(q.msgs) {
		n := copy(q.msgs, q.msgs[q.head:])
		clear(q.msgs[n:])
		q.msgs = q.msgs[:n]
		q.head = 0
	}
	q.bytes += len(m.data) - m.off
	q.msgs = append(q.msgs, m)
}

// appendStream queues stream bytes, merged into the last chunk when it
// carries the same credentials and no files.
func (q *queue) appendStream(b []byte, c *socket.ControlMessages) {
	if c.Rights == nil && !q.empty() {
		last := &q.msgs[len(q.msgs)-1]
		if last.rights == nil && last.creds == c.Creds && cap(last.data)-len(last.data) >= len(b) {
			last.data = append(last.data, b...)
			q.bytes += len(b)
			return
		}
	}
	q.push(message{data: append(q.buf(max(len(b), 4096)), b...), creds: c.Creds, rights: c.Rights})
	c.Rights = nil
}

// pop drops the front message, keeping its buffer for reuse.
func (q *queue) pop() {
	m := &q.msgs[q.head]
	q.bytes -= len(m.data) - m.off
	if len(q.spare) < 4 && cap(m.data) <= 64<<10 {
		q.spare = append(q.spare, m.data[:0])
	}
	*m = message{}
	q.head++
	if q.head == len(q.msgs) {
		q.msgs = q.msgs[:0]
		q.head = 0
	}
}

// drain empties the queue and appends the files it held to drop.
func (q *queue) drain(drop []*vfs.FileDescription) []*vfs.FileDescription {
	for !q.empty() {
		drop = append(drop, q.front().rights...)
		q.pop()
	}
	return drop
}
