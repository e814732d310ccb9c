package socket_test

import (
	"testing"

	"github.com/rampart-sandbox/rampart/sentry/socket"
)

func TestQueueStreamMergeAndConsume(t *testing.T) {
	var q socket.Queue[struct{}]
	c := &socket.ControlMessages{}
	q.AppendStream([]byte("abc"), c)
	q.AppendStream([]byte("def"), c)
	if q.Count() != 1 || q.Bytes != 6 {
		t.Fatalf("after two appends: count %d bytes %d, want 1 chunk of 6", q.Count(), q.Bytes)
	}
	q.Consume(4)
	if q.Bytes != 2 || string(q.Front().Data[q.Front().Off:]) != "ef" {
		t.Fatalf("after consuming 4: bytes %d, front %q", q.Bytes, q.Front().Data[q.Front().Off:])
	}
	q.Consume(2)
	if !q.Empty() || q.Bytes != 0 {
		t.Fatalf("not empty after consuming everything")
	}
	// Credentials that differ start a new chunk.
	q.AppendStream([]byte("x"), c)
	q.AppendStream([]byte("y"), &socket.ControlMessages{Creds: socket.Creds{PID: 7}})
	if q.Count() != 2 || q.At(1).Creds.PID != 7 {
		t.Fatalf("different creds merged: count %d", q.Count())
	}
}

func TestQueueFIFOReuse(t *testing.T) {
	var q socket.Queue[int]
	for i := 0; i < 1000; i++ {
		q.Push(socket.Message[int]{Data: append(q.Buf(1), byte(i)), From: i})
		if i%3 == 2 {
			for j := 0; j < 2; j++ {
				q.Pop()
			}
		}
	}
	want := q.Front().From
	for !q.Empty() {
		if got := q.Front().From; got != want {
			t.Fatalf("out of order: got %d, want %d", got, want)
		}
		want++
		q.Pop()
	}
	if want != 1000 {
		t.Fatalf("last message %d, want 999", want-1)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		q.Push(socket.Message[int]{Data: append(q.Buf(16), "0123456789abcdef"...)})
		q.Pop()
	}); allocs != 0 {
		t.Errorf("steady push/pop allocates %v times", allocs)
	}
}

// TestQueueStreamPieces: pieces appended together make one chunk, or
// join the last one when they fit, in order; a chunk with credentials is
// not joined.
func TestQueueStreamPieces(t *testing.T) {
	var q socket.Queue[struct{}]
	q.AppendStreamPieces([][]byte{[]byte("ab"), []byte("cd")})
	q.AppendStreamPieces([][]byte{[]byte("e"), []byte("fg")})
	if q.Count() != 1 || q.Bytes != 7 || string(q.Front().Data) != "abcdefg" {
		t.Fatalf("small pieces: %d chunks, %d bytes", q.Count(), q.Bytes)
	}
	small, big := make([]byte, 100), make([]byte, 60000)
	for i := range small {
		small[i] = 's'
	}
	for i := range big {
		big[i] = byte(i)
	}
	q.AppendStreamPieces([][]byte{small, big})
	if q.Count() != 2 || q.Bytes != 60107 || len(q.At(1).Data) != 60100 {
		t.Fatalf("two pieces past the last chunk's room: %d chunks, %d bytes", q.Count(), q.Bytes)
	}
	if d := q.At(1).Data; string(d[:100]) != string(small) || string(d[100:]) != string(big) {
		t.Fatal("pieces out of order")
	}
	q.AppendStream([]byte("x"), &socket.ControlMessages{Creds: socket.Creds{PID: 7}})
	q.AppendStreamPieces([][]byte{[]byte("y"), []byte("z")})
	if q.Count() != 4 || string(q.At(3).Data) != "yz" {
		t.Fatalf("pieces joined a chunk with credentials: %d chunks", q.Count())
	}
}

// TestQueueReserveCommit checks a chunk filled outside the lock: it keeps
// its place, later bytes queue behind it (never merged into it), readers
// see nothing from it on until it is committed, and a drained queue
// neither commits it nor hands its buffer to another sender.
func TestQueueReserveCommit(t *testing.T) {
	var q socket.Queue[struct{}]
	c := &socket.ControlMessages{}
	q.AppendStream([]byte("ab"), c)
	d := q.Reserve(3)
	q.AppendStream([]byte("z"), c)
	if q.Count() != 3 || q.Bytes != 6 {
		t.Fatalf("after reserve: count %d bytes %d, want 3 chunks of 6 bytes", q.Count(), q.Bytes)
	}
	if !q.Readable() {
		t.Fatalf("the chunk ahead of the reserved one is not readable")
	}
	q.Consume(2)
	if q.Readable() {
		t.Fatalf("a chunk being filled is readable")
	}
	copy(d, "cde")
	if !q.Commit(d) {
		t.Fatalf("commit of a queued chunk failed")
	}
	if !q.Readable() || string(q.Front().Data) != "cde" {
		t.Fatalf("after commit: readable %v front %q", q.Readable(), q.Front().Data)
	}
	q.Consume(3)
	if string(q.Front().Data) != "z" {
		t.Fatalf("the later chunk: %q, want \"z\"", q.Front().Data)
	}
	q.Pop()

	d = q.Reserve(64)
	q.Drain(nil)
	if q.Commit(d) {
		t.Fatalf("commit after the queue was drained succeeded")
	}
	for i := 0; i < 8; i++ {
		if b := q.Buf(64); cap(b) > 0 && &b[:1][0] == &d[0] {
			t.Fatalf("a buffer still being filled was reused")
		}
	}
}
