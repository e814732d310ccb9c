package inet_test

import (
	"encoding/binary"
	"testing"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/inet"
	"github.com/rampart-sandbox/rampart/sentry/socket/sockettest"
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

// TestTCPStreamIntact and TestTCPConcurrentReaders: see sockettest.
func TestTCPStreamIntact(t *testing.T) {
	c, a := tcpPair(t)
	sockettest.StreamIntact(t, ctx{}, c, a)
}

func TestTCPConcurrentReaders(t *testing.T) {
	c, a := tcpPair(t)
	sockettest.ConcurrentReaders(t, ctx{}, c, a)
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
