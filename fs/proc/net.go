package proc

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// netDir is /proc/[pid]/net (and /proc/net, a link to self/net): the
// sandbox's own network, from the kernel's socket.Stack, in Linux's
// formats (net/ipv4/tcp_ipv4.c, udp.c, net/ipv6/*, net/unix/af_unix.c,
// net/core/net-procfs.c).
var netDir = staticDir{
	text("dev", genNetDev),
	text("if_inet6", genIfInet6),
	text("tcp", func(_ vfs.Context, n *inode) ([]byte, error) { return genInet(n, unix.AF_INET, unix.IPPROTO_TCP), nil }),
	text("tcp6", func(_ vfs.Context, n *inode) ([]byte, error) { return genInet(n, unix.AF_INET6, unix.IPPROTO_TCP), nil }),
	text("udp", func(_ vfs.Context, n *inode) ([]byte, error) { return genInet(n, unix.AF_INET, unix.IPPROTO_UDP), nil }),
	text("udp6", func(_ vfs.Context, n *inode) ([]byte, error) { return genInet(n, unix.AF_INET6, unix.IPPROTO_UDP), nil }),
	text("unix", genNetUnix),
}

func netStack(n *inode) *socket.Stack { return socket.KernelStack(n.Data.fs.k) }

// genNetDev is /proc/net/dev; the sandbox keeps no interface counters.
func genNetDev(_ vfs.Context, n *inode) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	if st := netStack(n); st != nil {
		for _, ifc := range st.Interfaces {
			fmt.Fprintf(&b, "%6s:%8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n",
				ifc.Name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}
	}
	return b.Bytes(), nil
}

// genIfInet6 is /proc/net/if_inet6: address, index, prefix length,
// scope and flags (IFA_F_PERMANENT), name.
func genIfInet6(_ vfs.Context, n *inode) ([]byte, error) {
	var b bytes.Buffer
	st := netStack(n)
	if st == nil {
		return nil, nil
	}
	for _, ifc := range st.Interfaces {
		for _, a := range ifc.Addrs {
			if len(a.IP) != 16 {
				continue
			}
			scope := 0
			switch {
			case ifc.Flags&unix.IFF_LOOPBACK != 0:
				scope = 0x10
			case a.IP[0] == 0xfe && a.IP[1]&0xc0 == 0x80:
				scope = 0x20
			}
			fmt.Fprintf(&b, "%x %02x %02x %02x %02x %8s\n", a.IP, ifc.Index, a.PrefixLen, scope, 0x80, ifc.Name)
		}
	}
	return b.Bytes(), nil
}

// hexAddr prints an address as Linux does: each 32-bit word of the
// network-order address as a host-order (little-endian) number.
func hexAddr(b *bytes.Buffer, ip []byte) {
	for i := 0; i+4 <= len(ip); i += 4 {
		fmt.Fprintf(b, "%08X", binary.LittleEndian.Uint32(ip[i:]))
	}
}

// padLine pads a line to width-1 characters and ends it, as Linux's
// seq_pad.
func padLine(b *bytes.Buffer, start, width int) {
	for b.Len()-start < width-1 {
		b.WriteByte(' ')
	}
	b.WriteByte('\n')
}

func genInet(n *inode, family, protocol int) []byte {
	var b bytes.Buffer
	v6 := family == unix.AF_INET6
	tcp := protocol == unix.IPPROTO_TCP
	switch {
	case tcp && !v6:
		b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")
		padLine(&b, 0, 150)
	case !tcp && !v6:
		b.WriteString("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops")
		padLine(&b, 0, 128)
	case tcp:
		b.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	default:
		b.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n")
	}
	st := netStack(n)
	if st == nil {
		return b.Bytes()
	}
	for i, s := range st.InetSockets(family, protocol) {
		start := b.Len()
		if tcp {
			fmt.Fprintf(&b, "%4d: ", i)
		} else {
			// Linux prints the hash bucket.
			fmt.Fprintf(&b, "%5d: ", int(s.LocalPort)&0xff)
		}
		hexAddr(&b, s.LocalIP)
		fmt.Fprintf(&b, ":%04X ", s.LocalPort)
		hexAddr(&b, s.RemoteIP)
		fmt.Fprintf(&b, ":%04X %02X %08X:%08X %02X:%08X %08X %5d %8d %d",
			s.RemotePort, s.State, s.TxQueue, s.RxQueue, 0, 0, 0, s.UID, 0, s.Ino)
		switch {
		case tcp && s.State == socket.TCPListen:
			b.WriteString(" 1 0000000000000000 100 0 0 10 0")
		case tcp:
			b.WriteString(" 2 0000000000000000 20 4 30 10 -1")
		default:
			b.WriteString(" 2 0000000000000000 0")
		}
		switch {
		case v6:
			b.WriteByte('\n')
		case tcp:
			padLine(&b, start, 150)
		default:
			padLine(&b, start, 128)
		}
	}
	return b.Bytes()
}

// genNetUnix is /proc/net/unix.
func genNetUnix(_ vfs.Context, n *inode) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	st := netStack(n)
	if st == nil {
		return b.Bytes(), nil
	}
	for _, s := range st.UnixSockets() {
		flags := 0
		if s.Listening {
			flags = 0x10000 // __SO_ACCEPTCON
		}
		fmt.Fprintf(&b, "0000000000000000: %08X %08X %08X %04X %02X %5d", 2, 0, flags, s.Type, s.State, s.Ino)
		if len(s.Addr) > 2 {
			p := s.Addr[2:]
			b.WriteByte(' ')
			if p[0] == 0 {
				b.WriteByte('@')
				p = p[1:]
			} else if i := bytes.IndexByte(p, 0); i >= 0 {
				p = p[:i]
			}
			for _, c := range p {
				if c == 0 {
					c = '@'
				}
				b.WriteByte(c)
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}
