// Package sockettest holds checks of stream sockets that every family
// with a stream type passes: the bytes sent arrive once each, in order,
// whatever the sizes of the writes and reads and however many readers
// share the stream.
package sockettest

import (
	"testing"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// StreamIntact sends a patterned stream on c in writes of mixed sizes
// (on either side of socket.CopyUnlockedMin, where a family may start
// copying without its lock) from one goroutine while it reads the stream
// from a, its connected peer, in reads of other sizes, peeking now and
// then: what arrives must be what was sent, in order. Under -race it
// checks the copies made without the lock.
func StreamIntact(t *testing.T, ctx vfs.Context, c, a socket.Socket) {
	t.Helper()
	const total = 4 << 20
	pattern := func(i int) byte { return byte(i*7 + i>>13) }
	sizes := []int{1, 100, 4096, 16 << 10, 16<<10 - 1, 65536, 200000, 3000}
	sent := make(chan error, 1)
	go func() {
		buf := make([]byte, 200000)
		for off, i := 0, 0; off < total; i++ {
			n := min(sizes[i%len(sizes)], total-off)
			for j := range n {
				buf[j] = pattern(off + j)
			}
			k, err := c.SendMsg(ctx, buf[:n], nil, nil, 0)
			if err != nil || k != n {
				sent <- err
				return
			}
			off += n
		}
		sent <- nil
	}()
	reads := []int{7, 65536, 1000, 30000, 131072}
	buf := make([]byte, 131072)
	for off, i := 0, 0; off < total; i++ {
		n := reads[i%len(reads)]
		flags := 0
		if i%5 == 3 {
			flags = linux.MSG_PEEK
		}
		var res socket.RecvResult
		if err := a.RecvMsg(ctx, buf[:n], flags, &res); err != nil {
			t.Fatalf("recv at %d: %v", off, err)
		}
		if res.N == 0 {
			t.Fatalf("end of stream at %d of %d", off, total)
		}
		for j := range res.N {
			if buf[j] != pattern(off+j) {
				t.Fatalf("byte %d: %#x, want %#x", off+j, buf[j], pattern(off+j))
			}
		}
		if flags == 0 {
			off += res.N
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
}

// ConcurrentReaders sends a stream on c and drains it from its peer a
// with two readers at once, in large reads: together they must get each
// byte once (the count and the sum of what they read match what was
// sent). c must take shutdown(SHUT_WR).
func ConcurrentReaders(t *testing.T, ctx vfs.Context, c, a socket.Socket) {
	t.Helper()
	const total = 8 << 20
	var want uint64
	buf := make([]byte, 100000)
	for i := range buf {
		buf[i] = byte(i * 13)
	}
	type tally struct {
		n   int
		sum uint64
		err error
	}
	got := make(chan tally, 2)
	for range 2 {
		go func() {
			var r tally
			b := make([]byte, 70000)
			for {
				var res socket.RecvResult
				if r.err = a.RecvMsg(ctx, b, 0, &res); r.err != nil || res.N == 0 {
					break
				}
				r.n += res.N
				for _, x := range b[:res.N] {
					r.sum += uint64(x)
				}
			}
			got <- r
		}()
	}
	for off := 0; off < total; {
		n := min(len(buf), total-off)
		k, err := c.SendMsg(ctx, buf[:n], nil, nil, 0)
		if err != nil || k != n {
			t.Fatalf("send at %d: %d, %v", off, k, err)
		}
		for _, x := range buf[:n] {
			want += uint64(x)
		}
		off += n
	}
	if err := c.Shutdown(ctx, linux.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	r1, r2 := <-got, <-got
	if r1.err != nil || r2.err != nil {
		t.Fatalf("recv: %v, %v", r1.err, r2.err)
	}
	if r1.n+r2.n != total || r1.sum+r2.sum != want {
		t.Fatalf("readers got %d+%d bytes summing to %d, want %d summing to %d", r1.n, r2.n, r1.sum+r2.sum, total, want)
	}
}
