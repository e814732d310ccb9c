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

// TestMaxDgramQlen: a datagram receiver takes net.unix.max_dgram_qlen
// datagrams and one more from a sender it is not connected to, the value
// as it was when the receiver was made.
func TestMaxDgramQlen(t *testing.T) {
	st := socket.NewStack([]socket.Interface{socket.Loopback()}, false)
	qlen := uint64(3)
	st.Sysctl = func(p string) uint64 {
		if p != "net/unix/max_dgram_qlen" {
			t.Errorf("sysctl %q read", p)
		}
		return qlen
	}
	unix.Install(st)
	p, err := st.ProviderOf(linux.AF_UNIX)
	if err != nil {
		t.Fatal(err)
	}
	open := func() socket.Socket {
		f, err := p.Socket(ctx{}, linux.SOCK_DGRAM, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.DecRef(ctx{}) })
		s, _ := socket.FromFile(f)
		return s
	}
	addr := func(name string) []byte {
		return append([]byte{linux.AF_UNIX, 0, 0}, name...)
	}
	r3 := open()
	if err := r3.Bind(ctx{}, addr("r3")); err != nil {
		t.Fatal(err)
	}
	qlen = 0
	r0 := open()
	if err := r0.Bind(ctx{}, addr("r0")); err != nil {
		t.Fatal(err)
	}
	s := open()
	for _, c := range []struct {
		to   string
		want int
	}{{"r3", 4}, {"r0", 1}} {
		n := 0
		for ; n < 100; n++ {
			if _, err := s.SendMsg(ctx{}, []byte("x"), addr(c.to), nil, linux.MSG_DONTWAIT); err != nil {
				if err != linux.EAGAIN {
					t.Errorf("send to %s: %v, want EAGAIN", c.to, err)
				}
				break
			}
		}
		if n != c.want {
			t.Errorf("%s took %d datagrams, want %d", c.to, n, c.want)
		}
	}
}

// TestOOBAcrossChunks checks that the OOB byte keeps its place when it
// shares queue chunks with plain data: a read stops right before it, and
// recv(MSG_OOB) finds it there.
func TestOOBAcrossChunks(t *testing.T) {
	a, b := pair(t, linux.SOCK_STREAM)
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i % 251)
	}
	for _, flags := range []int{0, linux.MSG_OOB, 0} {
		if n, err := a.SendMsg(ctx{}, data, nil, nil, flags|linux.MSG_DONTWAIT); err != nil || n != len(data) {
			t.Fatalf("send: %d, %v", n, err)
		}
	}
	buf := make([]byte, 3*len(data))
	var res socket.RecvResult
	if err := b.RecvMsg(ctx{}, buf, linux.MSG_DONTWAIT, &res); err != nil || res.N != 2*len(data)-1 {
		t.Fatalf("read to the mark: %d, %v; want %d", res.N, err, 2*len(data)-1)
	}
	res = socket.RecvResult{}
	if err := b.RecvMsg(ctx{}, buf[:1], linux.MSG_OOB|linux.MSG_DONTWAIT, &res); err != nil || res.N != 1 || buf[0] != data[len(data)-1] || res.Flags != linux.MSG_OOB {
		t.Fatalf("recv oob: %d %#x flags %#x, %v", res.N, buf[0], res.Flags, err)
	}
	res = socket.RecvResult{}
	if err := b.RecvMsg(ctx{}, buf, linux.MSG_DONTWAIT, &res); err != nil || res.N != len(data) || buf[0] != data[0] {
		t.Fatalf("read past the taken byte: %d, %v", res.N, err)
	}
}

// TestOOBBlockingRead checks that a blocking read that finds only the OOB
// byte passes over it (a peek) or loses it (a read) and waits for data.
func TestOOBBlockingRead(t *testing.T) {
	for _, flags := range []int{0, linux.MSG_PEEK} {
		a, b := pair(t, linux.SOCK_STREAM)
		if _, err := a.SendMsg(ctx{}, []byte("x"), nil, nil, linux.MSG_OOB); err != nil {
			t.Fatal(err)
		}
		done := make(chan string)
		go func() {
			buf := make([]byte, 8)
			var res socket.RecvResult
			if err := b.RecvMsg(ctx{}, buf, flags, &res); err != nil {
				done <- err.Error()
				return
			}
			done <- string(buf[:res.N])
		}()
		if _, err := a.SendMsg(ctx{}, []byte("y"), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		if got := <-done; got != "y" {
			t.Errorf("flags %#x: read %q, want \"y\"", flags, got)
		}
	}
}
