package netlink_test

import (
	"encoding/binary"
	"testing"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/netlink"
)

type ctx struct{}

func (ctx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (ctx) CopyIn(uint64, []byte) (int, error)  { return 0, linux.EFAULT }
func (ctx) CopyOut(uint64, []byte) (int, error) { return 0, linux.EFAULT }

func open(t *testing.T) socket.Socket {
	t.Helper()
	st := socket.NewStack([]socket.Interface{socket.Loopback()}, false)
	netlink.Install(st)
	p, err := st.ProviderOf(linux.AF_NETLINK)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.Socket(ctx{}, linux.SOCK_RAW, linux.NETLINK_ROUTE, linux.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.DecRef(ctx{}) })
	s, _ := socket.FromFile(f)
	return s
}

func request(typ, flags uint16, seq uint32, family byte) []byte {
	b := make([]byte, 20)
	le := binary.LittleEndian
	le.PutUint32(b, 17)
	le.PutUint16(b[4:], typ)
	le.PutUint16(b[6:], linux.NLM_F_REQUEST|flags)
	le.PutUint32(b[8:], seq)
	b[16] = family
	return b
}

// messages receives one datagram and returns its messages' types.
func messages(t *testing.T, s socket.Socket) ([]uint16, [][]byte) {
	t.Helper()
	buf := make([]byte, 1<<16)
	var res socket.RecvResult
	if err := s.RecvMsg(ctx{}, buf, 0, &res); err != nil {
		t.Fatalf("recv: %v", err)
	}
	b := buf[:res.N]
	var types []uint16
	var msgs [][]byte
	for len(b) >= 16 {
		l := int(binary.LittleEndian.Uint32(b))
		types = append(types, binary.LittleEndian.Uint16(b[4:]))
		msgs = append(msgs, b[:l])
		b = b[(l+3)&^3:]
	}
	return types, msgs
}

func TestDumpsAndErrors(t *testing.T) {
	s := open(t)
	for _, c := range []struct {
		typ    uint16
		family byte
		want   int
	}{
		{linux.RTM_GETLINK, linux.AF_UNSPEC, 1},
		{linux.RTM_GETADDR, linux.AF_UNSPEC, 2},
		{linux.RTM_GETADDR, linux.AF_INET6, 1},
		{linux.RTM_GETROUTE, linux.AF_INET, 3},
		{linux.RTM_GETNEIGH, linux.AF_UNSPEC, 0},
	} {
		if _, err := s.SendMsg(ctx{}, request(c.typ, linux.NLM_F_DUMP, 9, c.family), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		n := 0
		if c.want > 0 {
			types, _ := messages(t, s)
			n = len(types)
		}
		if n != c.want {
			t.Errorf("type %d family %d: %d messages, want %d", c.typ, c.family, n, c.want)
		}
		if types, _ := messages(t, s); len(types) != 1 || types[0] != linux.NLMSG_DONE {
			t.Errorf("type %d: %v, want NLMSG_DONE", c.typ, types)
		}
	}
	// Linux's errors: EOPNOTSUPP for unknown types, ENODEV for a link
	// that does not exist.
	s.SendMsg(ctx{}, request(0x7f, 0, 10, 0), nil, nil, 0)
	_, msgs := messages(t, s)
	if got := int32(binary.LittleEndian.Uint32(msgs[0][16:])); got != -int32(linux.EOPNOTSUPP) {
		t.Errorf("unknown type: error %d", got)
	}
	req := make([]byte, 32)
	binary.LittleEndian.PutUint32(req, 32)
	binary.LittleEndian.PutUint16(req[4:], linux.RTM_GETLINK)
	binary.LittleEndian.PutUint16(req[6:], linux.NLM_F_REQUEST)
	binary.LittleEndian.PutUint32(req[20:], 42) // ifi_index
	s.SendMsg(ctx{}, req, nil, nil, 0)
	_, msgs = messages(t, s)
	if got := int32(binary.LittleEndian.Uint32(msgs[0][16:])); got != -int32(linux.ENODEV) {
		t.Errorf("missing link: error %d", got)
	}
	// A malformed length ends the batch without a reply.
	bad := request(linux.RTM_GETLINK, linux.NLM_F_DUMP, 11, 0)
	binary.LittleEndian.PutUint32(bad, 400)
	s.SendMsg(ctx{}, bad, nil, nil, 0)
	var res socket.RecvResult
	if err := s.RecvMsg(ctx{}, make([]byte, 64), 0, &res); err != linux.EAGAIN {
		t.Errorf("malformed: %v, want EAGAIN", err)
	}
}

// TestOverrun checks that a client that never reads gets ENOBUFS instead
// of an unbounded queue.
func TestOverrun(t *testing.T) {
	s := open(t)
	for i := 0; i < 10000; i++ {
		s.SendMsg(ctx{}, request(linux.RTM_GETLINK, linux.NLM_F_DUMP, uint32(i), 0), nil, nil, 0)
	}
	var res socket.RecvResult
	buf := make([]byte, 1<<16)
	n := 0
	var err error
	for ; n < 20000; n++ {
		if err = s.RecvMsg(ctx{}, buf, 0, &res); err != nil {
			break
		}
	}
	if err != linux.ENOBUFS || n > 20000/2 {
		t.Errorf("after %d datagrams: %v, want ENOBUFS", n, err)
	}
}
