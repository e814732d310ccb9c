package netlink_test

import (
	"encoding/binary"
	"testing"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// FuzzRoute sends any bytes an application can write to a NETLINK_ROUTE
// socket, as one datagram, and reads every answer: the endpoint must not
// panic, and each answer must be whole netlink messages (a length of at
// least a header, within the datagram, 4-byte aligned apart from the
// last), acks and errors echoing the sequence number of the request they
// answer. `make fuzz` (test/e2e/fuzz.sh) fuzzes it for a while.
func FuzzRoute(f *testing.F) {
	for _, typ := range []uint16{linux.RTM_GETLINK, linux.RTM_GETADDR, linux.RTM_GETROUTE, linux.RTM_NEWADDR, linux.RTM_DELLINK, 0x7fff} {
		f.Add(request(typ, linux.NLM_F_DUMP|linux.NLM_F_ACK, 7, linux.AF_UNSPEC))
		f.Add(append(request(typ, linux.NLM_F_ACK, 9, linux.AF_INET), request(typ, 0, 10, linux.AF_INET6)...))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := open(t)
		if _, err := s.SendMsg(ctx{}, msg, nil, nil, 0); err != nil && err != linux.EINVAL && err != linux.EMSGSIZE && err != linux.ENOBUFS {
			t.Fatalf("send: %v", err)
		}
		seqs := map[uint32]bool{}
		for b := msg; len(b) >= 16; {
			l := int(binary.LittleEndian.Uint32(b))
			if l < 16 || l > len(b) {
				break
			}
			seqs[binary.LittleEndian.Uint32(b[8:])] = true
			if n := (l + 3) &^ 3; n < len(b) {
				b = b[n:]
			} else {
				break
			}
		}
		buf := make([]byte, 1<<16)
		for i := 0; ; i++ {
			if i > 1<<12 {
				t.Fatal("answers do not end")
			}
			var res socket.RecvResult
			if err := s.RecvMsg(ctx{}, buf, 0, &res); err != nil {
				if err != linux.EAGAIN {
					t.Fatalf("recv: %v", err)
				}
				return
			}
			for b := buf[:res.N]; len(b) > 0; {
				if len(b) < 16 {
					t.Fatalf("%d bytes left after the answer's messages", len(b))
				}
				l := int(binary.LittleEndian.Uint32(b))
				if l < 16 || l > len(b) {
					t.Fatalf("message length %d in %d bytes", l, len(b))
				}
				typ, seq := binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint32(b[8:])
				if (typ == linux.NLMSG_ERROR || typ == linux.NLMSG_DONE) && !seqs[seq] {
					t.Fatalf("answer type %d with sequence %d, not a request's", typ, seq)
				}
				n := (l + 3) &^ 3
				if n > len(b) {
					n = len(b)
				}
				b = b[n:]
			}
		}
	})
}
