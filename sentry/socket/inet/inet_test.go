package inet_test

import (
	"encoding/binary"
	"testing"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/inet"
)

type ctx struct{}

func (ctx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (ctx) CopyIn(uint64, []byte) (int, error)  { return 0, linux.EFAULT }
func (ctx) CopyOut(uint64, []byte) (int, error) { return 0, linux.EFAULT }

func newSocket(t *testing.T, family, stype int, flags uint32) socket.Socket {
	t.Helper()
	p, err := testStack.ProviderOf(family)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.Socket(ctx{}, stype, 0, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.DecRef(ctx{}) })
	s, _ := socket.FromFile(f)
	return s
}

func sockaddr4(ip [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, linux.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], ip[:])
	return b
}

func TestTCPConnectAcceptReset(t *testing.T) {
	l := newSocket(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	if err := l.Bind(ctx{}, sockaddr4([4]byte{127, 0, 0, 1}, 0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(ctx{}, 1); err != nil {
		t.Fatal(err)
	}
	name := l.SockName()
	if port := binary.BigEndian.Uint16(name[2:]); port < 32768 {
		t.Fatalf("ephemeral port %d", port)
	}
	c := newSocket(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	if err := c.Connect(ctx{}, name); err != nil {
		t.Fatal(err)
	}
	af, _, err := l.Accept(ctx{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMsg(ctx{}, []byte("unread"), nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	af.DecRef(ctx{})
	var res socket.RecvResult
	if err := c.RecvMsg(ctx{}, make([]byte, 8), 0, &res); err != linux.ECONNRESET {
		t.Errorf("recv after the peer closed with unread data: %v, want ECONNRESET", err)
	}
	// The listener is gone from the port once closed; a new connection
	// to a port without listener is refused.
	c2 := newSocket(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	if err := c2.Connect(ctx{}, sockaddr4([4]byte{127, 0, 0, 1}, 1)); err != linux.ECONNREFUSED {
		t.Errorf("connect without listener: %v, want ECONNREFUSED", err)
	}
	if err := c2.Connect(ctx{}, sockaddr4([4]byte{192, 0, 2, 1}, 80)); err != linux.ENETUNREACH {
		t.Errorf("connect off loopback: %v, want ENETUNREACH", err)
	}
}

func TestUDPToDualStack(t *testing.T) {
	r := newSocket(t, linux.AF_INET6, linux.SOCK_DGRAM, linux.O_NONBLOCK)
	any6 := make([]byte, 28)
	binary.LittleEndian.PutUint16(any6, linux.AF_INET6)
	if err := r.Bind(ctx{}, any6); err != nil {
		t.Fatal(err)
	}
	port := binary.BigEndian.Uint16(r.SockName()[2:])
	s := newSocket(t, linux.AF_INET, linux.SOCK_DGRAM, 0)
	if n, err := s.SendMsg(ctx{}, []byte("hi"), sockaddr4([4]byte{127, 0, 0, 1}, port), nil, 0); err != nil || n != 2 {
		t.Fatalf("sendto: %d, %v", n, err)
	}
	var res socket.RecvResult
	if err := r.RecvMsg(ctx{}, make([]byte, 8), 0, &res); err != nil || res.N != 2 {
		t.Fatalf("recv: %d, %v", res.N, err)
	}
	if len(res.From) != 28 || res.From[18] != 0xff || res.From[19] != 0xff || res.From[20] != 127 {
		t.Errorf("sender not reported IPv4-mapped: %x", res.From)
	}
}

// testStack is the tests' network.
var testStack = newStack()

// newStack is a network stack with only this family.
func newStack() *socket.Stack {
	st := socket.NewStack([]socket.Interface{socket.Loopback()}, false)
	inet.Install(st)
	return st
}

// TestTCPStreamIntact sends a patterned stream in writes of mixed sizes
// (some copied under the network's lock, some without it: see
// copyUnlockedMin) from one goroutine while another reads it in reads of
// other sizes, peeking now and then: what arrives is what was sent, in
// order. Under -race it checks the copies made without the lock.
func TestTCPStreamIntact(t *testing.T) {
	c, a := tcpPair(t)
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
			k, err := c.SendMsg(ctx{}, buf[:n], nil, nil, 0)
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
		if err := a.RecvMsg(ctx{}, buf[:n], flags, &res); err != nil {
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

// TestTCPConcurrentReaders drains one stream with two readers at once,
// in reads large enough to copy without the lock: together they get each
// byte once (the count and the sum of what they read match what was
// sent).
func TestTCPConcurrentReaders(t *testing.T) {
	c, a := tcpPair(t)
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
				if r.err = a.RecvMsg(ctx{}, b, 0, &res); r.err != nil || res.N == 0 {
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
		k, err := c.SendMsg(ctx{}, buf[:n], nil, nil, 0)
		if err != nil || k != n {
			t.Fatalf("send at %d: %d, %v", off, k, err)
		}
		for _, x := range buf[:n] {
			want += uint64(x)
		}
		off += n
	}
	if err := c.Shutdown(ctx{}, linux.SHUT_WR); err != nil {
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

// tcpPair returns a connected loopback TCP pair: the connecting socket
// and the accepted one.
func tcpPair(t *testing.T) (socket.Socket, socket.Socket) {
	t.Helper()
	l := newSocket(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	if err := l.Bind(ctx{}, sockaddr4([4]byte{127, 0, 0, 1}, 0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(ctx{}, 1); err != nil {
		t.Fatal(err)
	}
	c := newSocket(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	if err := c.Connect(ctx{}, l.SockName()); err != nil {
		t.Fatal(err)
	}
	af, _, err := l.Accept(ctx{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { af.DecRef(ctx{}) })
	a, _ := socket.FromFile(af)
	return c, a
}
