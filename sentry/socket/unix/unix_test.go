package unix_test

import (
	"sync"
	"testing"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/sockettest"
	"github.com/rampart-sandbox/rampart/sentry/socket/unix"
)

type ctx struct{}

func (ctx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (ctx) CopyIn(uint64, []byte) (int, error)  { return 0, linux.EFAULT }
func (ctx) CopyOut(uint64, []byte) (int, error) { return 0, linux.EFAULT }

func pair(t *testing.T, stype int) (socket.Socket, socket.Socket) {
	t.Helper()
	p, err := newStack().ProviderOf(linux.AF_UNIX)
	if err != nil {
		t.Fatal(err)
	}
	a, b, err := p.Pair(ctx{}, stype, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.DecRef(ctx{}); b.DecRef(ctx{}) })
	sa, _ := socket.FromFile(a)
	sb, _ := socket.FromFile(b)
	return sa, sb
}

func TestStreamBlockingAndEOF(t *testing.T) {
	a, b := pair(t, linux.SOCK_STREAM)
	const total = 1 << 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for sent := 0; sent < total; sent += len(buf) {
			if n, err := a.SendMsg(ctx{}, buf, nil, nil, 0); err != nil || n != len(buf) {
				t.Errorf("send: %d, %v", n, err)
				return
			}
		}
		a.Shutdown(ctx{}, linux.SHUT_WR)
	}()
	got := 0
	buf := make([]byte, 10000)
	for {
		var res socket.RecvResult
		if err := b.RecvMsg(ctx{}, buf, 0, &res); err != nil {
			t.Fatal(err)
		}
		if res.N == 0 {
			break
		}
		got += res.N
	}
	wg.Wait()
	if got != total {
		t.Errorf("received %d bytes, want %d", got, total)
	}
	if _, err := a.SendMsg(ctx{}, []byte("x"), nil, nil, linux.MSG_NOSIGNAL); err != linux.EPIPE {
		t.Errorf("send after shutdown: %v, want EPIPE", err)
	}
}

func TestSeqpacketBoundaries(t *testing.T) {
	a, b := pair(t, linux.SOCK_SEQPACKET)
	for _, m := range []string{"a", "bcd", "efghij"} {
		if _, err := a.SendMsg(ctx{}, []byte(m), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2)
	for _, want := range []struct{ n, len int }{{1, 1}, {2, 3}, {2, 6}} {
		var res socket.RecvResult
		if err := b.RecvMsg(ctx{}, buf, 0, &res); err != nil {
			t.Fatal(err)
		}
		if res.N != want.n || res.MsgLen != want.len || (res.N < res.MsgLen) != (res.Flags&linux.MSG_TRUNC != 0) {
			t.Errorf("got n=%d len=%d flags=%#x, want %v", res.N, res.MsgLen, res.Flags, want)
		}
	}
	if got := b.Readiness(vfs.ReadableEvents); got != 0 {
		t.Errorf("readiness after draining: %#x", got)
	}
}

// newStack is a network stack with only this family.
func newStack() *socket.Stack {
	st := socket.NewStack([]socket.Interface{socket.Loopback()}, false)
	unix.Install(st)
	return st
}

// TestStreamIntact and TestStreamConcurrentReaders: see sockettest.
func TestStreamIntact(t *testing.T) {
	a, b := pair(t, linux.SOCK_STREAM)
	sockettest.StreamIntact(t, ctx{}, a, b)
}

func TestStreamConcurrentReaders(t *testing.T) {
	a, b := pair(t, linux.SOCK_STREAM)
	sockettest.ConcurrentReaders(t, ctx{}, a, b)
}
