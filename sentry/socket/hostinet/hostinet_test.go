package hostinet_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/hostinet"
)

type ctx struct{}

func (ctx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (ctx) CopyIn(uint64, []byte) (int, error)  { return 0, linux.EFAULT }
func (ctx) CopyOut(uint64, []byte) (int, error) { return 0, linux.EFAULT }

var stack = func() *socket.Stack {
	st := socket.NewStack([]socket.Interface{socket.Loopback()}, true)
	hostinet.Install(st)
	return st
}()

func open(t *testing.T, family, stype, protocol int) (socket.Socket, error) {
	t.Helper()
	p, err := stack.ProviderOf(family)
	if err != nil {
		return nil, err
	}
	f, err := p.Socket(ctx{}, stype, protocol, 0)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { f.DecRef(ctx{}) })
	s, _ := socket.FromFile(f)
	return s, nil
}

func loopback4() []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, linux.AF_INET)
	copy(b[4:], []byte{127, 0, 0, 1})
	return b
}

func TestRefused(t *testing.T) {
	for _, c := range []struct{ family, stype, protocol int }{
		{linux.AF_INET, linux.SOCK_RAW, linux.IPPROTO_ICMP},
		{linux.AF_INET6, linux.SOCK_RAW, linux.IPPROTO_ICMPV6},
		{linux.AF_PACKET, linux.SOCK_RAW, 0},
	} {
		if _, err := open(t, c.family, c.stype, c.protocol); err != linux.EPERM {
			t.Errorf("%+v: %v, want EPERM", c, err)
		}
	}
	if _, err := open(t, linux.AF_INET, linux.SOCK_DGRAM, linux.IPPROTO_ICMP); err != linux.EACCES {
		t.Errorf("ping socket: %v, want EACCES", err)
	}
}

// TestTCPBlocking checks that a blocking accept and recv wait for the
// host's readiness (the notifier) and that data crosses intact.
func TestTCPBlocking(t *testing.T) {
	l, err := open(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(ctx{}, loopback4()); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(ctx{}, 4); err != nil {
		t.Fatal(err)
	}
	addr := l.SockName()
	c, _ := open(t, linux.AF_INET, linux.SOCK_STREAM, 0)
	accepted := make(chan *vfs.FileDescription, 1)
	go func() {
		f, _, err := l.Accept(ctx{}, 0)
		if err != nil {
			t.Errorf("accept: %v", err)
		}
		accepted <- f
	}()
	time.Sleep(50 * time.Millisecond) // let accept block
	if err := c.Connect(ctx{}, addr); err != nil {
		t.Fatalf("connect: %v", err)
	}
	f := <-accepted
	if f == nil {
		return
	}
	defer f.DecRef(ctx{})
	a, _ := socket.FromFile(f)
	want := bytes.Repeat([]byte("rampart "), 1<<16)
	got := make(chan []byte)
	go func() {
		var out []byte
		buf := make([]byte, 8192)
		for len(out) < len(want) {
			var res socket.RecvResult
			if err := a.RecvMsg(ctx{}, buf, 0, &res); err != nil || res.N == 0 {
				t.Errorf("recv: %v after %d", err, len(out))
				break
			}
			out = append(out, buf[:res.N]...)
		}
		got <- out
	}()
	time.Sleep(50 * time.Millisecond) // let recv block
	if n, err := c.SendMsg(ctx{}, want, nil, nil, 0); err != nil || n != len(want) {
		t.Fatalf("send: %d, %v", n, err)
	}
	if out := <-got; !bytes.Equal(out, want) {
		t.Errorf("received %d bytes, want %d", len(out), len(want))
	}
	// SO_RCVTIMEO is the sentry's: EAGAIN after the timeout.
	tv := make([]byte, 16)
	binary.LittleEndian.PutUint64(tv[8:], 20000)
	if err := a.SetSockOpt(ctx{}, linux.SOL_SOCKET, linux.SO_RCVTIMEO, tv); err != nil {
		t.Fatal(err)
	}
	var res socket.RecvResult
	start := time.Now()
	if err := a.RecvMsg(ctx{}, make([]byte, 8), 0, &res); err != linux.EAGAIN || time.Since(start) < 20*time.Millisecond {
		t.Errorf("timed recv: %v after %v", err, time.Since(start))
	}
	// Options off the allow-list never reach the host.
	if err := a.SetSockOpt(ctx{}, linux.SOL_SOCKET, linux.SO_BINDTODEVICE, []byte("lo\x00")); err != linux.ENOPROTOOPT {
		t.Errorf("SO_BINDTODEVICE: %v", err)
	}
	if v, err := a.GetSockOpt(ctx{}, linux.SOL_TCP, linux.TCP_NODELAY, 4); err != nil || len(v) != 4 {
		t.Errorf("TCP_NODELAY: %v %v", v, err)
	}
	// /proc/net sees both ends.
	var p socket.InetLister
	pr, _ := stack.ProviderOf(linux.AF_INET)
	p = pr.(socket.InetLister)
	states := map[int]int{}
	for _, s := range p.InetSockets(linux.IPPROTO_TCP) {
		states[s.State]++
	}
	if states[socket.TCPListen] != 1 || states[socket.TCPEstablished] != 2 {
		t.Errorf("states %v", states)
	}
}

func TestUDP(t *testing.T) {
	r, _ := open(t, linux.AF_INET, linux.SOCK_DGRAM, 0)
	if err := r.Bind(ctx{}, loopback4()); err != nil {
		t.Fatal(err)
	}
	s, _ := open(t, linux.AF_INET, linux.SOCK_DGRAM, 0)
	if _, err := s.SendMsg(ctx{}, []byte("hello"), r.SockName(), nil, 0); err != nil {
		t.Fatal(err)
	}
	var res socket.RecvResult
	buf := make([]byte, 3)
	if err := r.RecvMsg(ctx{}, buf, 0, &res); err != nil {
		t.Fatal(err)
	}
	if res.N != 3 || res.MsgLen != 5 || res.Flags&linux.MSG_TRUNC == 0 || !bytes.Equal(res.From[2:4], s.SockName()[2:4]) {
		t.Errorf("recv %+v", res)
	}
}
