package inet

import (
	"encoding/binary"
	"time"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// storedDefaults are the options that are accepted, stored and read back
// without changing behaviour on loopback, with Linux's defaults.
var storedDefaults = map[[2]int]int32{
	{linux.SOL_SOCKET, linux.SO_KEEPALIVE}:        0,
	{linux.SOL_SOCKET, linux.SO_BROADCAST}:        0,
	{linux.SOL_SOCKET, linux.SO_OOBINLINE}:        0,
	{linux.SOL_SOCKET, linux.SO_DONTROUTE}:        0,
	{linux.SOL_SOCKET, linux.SO_PRIORITY}:         0,
	{linux.SOL_SOCKET, linux.SO_TIMESTAMP}:        0,
	{linux.SOL_SOCKET, linux.SO_RCVLOWAT}:         1,
	{linux.SOL_SOCKET, linux.SO_SNDLOWAT}:         1,
	{linux.SOL_SOCKET, linux.SO_PASSCRED}:         0,
	{linux.SOL_TCP, linux.TCP_NODELAY}:            0,
	{linux.SOL_TCP, linux.TCP_KEEPIDLE}:           7200,
	{linux.SOL_TCP, linux.TCP_KEEPINTVL}:          75,
	{linux.SOL_TCP, linux.TCP_KEEPCNT}:            9,
	{linux.SOL_TCP, linux.TCP_SYNCNT}:             6,
	{linux.SOL_TCP, linux.TCP_LINGER2}:            60,
	{linux.SOL_TCP, linux.TCP_DEFER_ACCEPT}:       0,
	{linux.SOL_TCP, linux.TCP_QUICKACK}:           1,
	{linux.SOL_TCP, linux.TCP_USER_TIMEOUT}:       0,
	{linux.SOL_TCP, linux.TCP_MAXSEG}:             536,
	{linux.SOL_IP, linux.IP_TOS}:                  0,
	{linux.SOL_IP, linux.IP_TTL}:                  64,
	{linux.SOL_IP, linux.IP_RECVERR}:              0,
	{linux.SOL_IP, linux.IP_PKTINFO}:              0,
	{linux.SOL_IP, linux.IP_MTU_DISCOVER}:         1,
	{linux.SOL_IP, linux.IP_FREEBIND}:             0,
	{linux.SOL_IP, linux.IP_RECVTOS}:              0,
	{linux.SOL_IP, linux.IP_MULTICAST_TTL}:        1,
	{linux.SOL_IP, linux.IP_MULTICAST_LOOP}:       1,
	{linux.SOL_IP, linux.IP_BIND_ADDRESS_NO_PORT}: 0,
	{linux.SOL_IPV6, linux.IPV6_TCLASS}:           0,
	{linux.SOL_IPV6, linux.IPV6_RECVPKTINFO}:      0,
	{linux.SOL_IPV6, linux.IPV6_UNICAST_HOPS}:     64,
	{linux.SOL_IPV6, linux.IPV6_MULTICAST_HOPS}:   1,
	{linux.SOL_IPV6, linux.IPV6_RECVERR}:          0,
	tcpCork:                                       0,
	udpCork:                                       0,
}

// The corks, which the send paths read from e.opts: TCP_CORK holds back
// less than a segment (holdLocked), UDP_CORK makes every send add to one
// datagram as MSG_MORE does.
var (
	tcpCork = [2]int{linux.SOL_TCP, linux.TCP_CORK}
	udpCork = [2]int{linux.SOL_UDP, linux.UDP_CORK}
)

// levelOK reports whether level applies to e (SOL_TCP to TCP only, SOL_IP
// and SOL_IPV6 to their families; an IPv6 socket also takes SOL_IP).
func (e *endpoint) levelOK(level int) bool {
	switch level {
	case linux.SOL_SOCKET:
		return true
	case linux.SOL_TCP:
		return e.tcp()
	case linux.SOL_UDP:
		return !e.tcp()
	case linux.SOL_IP:
		return true
	case linux.SOL_IPV6:
		return e.family == linux.AF_INET6
	}
	return false
}

// SetSockOpt implements socket.Socket.
func (e *endpoint) SetSockOpt(ctx vfs.Context, level, name int, val []byte) error {
	if !e.levelOK(level) {
		return linux.ENOPROTOOPT
	}
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if level == linux.SOL_SOCKET {
		switch name {
		case linux.SO_RCVTIMEO, linux.SO_SNDTIMEO:
			if len(val) < 16 {
				return linux.EINVAL
			}
			sec := int64(binary.LittleEndian.Uint64(val))
			usec := int64(binary.LittleEndian.Uint64(val[8:]))
			if usec < 0 || usec >= 1e6 {
				return linux.EDOM
			}
			var d time.Duration
			if sec > 0 || usec > 0 {
				d = time.Duration(max(sec, 0))*time.Second + time.Duration(usec)*time.Microsecond
			}
			if name == linux.SO_RCVTIMEO {
				e.rcvTimeo = d
			} else {
				e.sndTimeo = d
			}
			return nil
		case linux.SO_LINGER:
			if len(val) < 8 {
				return linux.EINVAL
			}
			copy(e.linger[:], val)
			return nil
		}
	}
	v, err := socket.OptInt(val)
	if err != nil {
		return err
	}
	switch [2]int{level, name} {
	case [2]int{linux.SOL_SOCKET, linux.SO_SNDBUF}:
		e.sndbuf, e.sndbufSet = socket.BufSize(v, socket.MinSndBuf), true
		return nil
	case [2]int{linux.SOL_SOCKET, linux.SO_RCVBUF}:
		e.rcvbuf, e.rcvbufSet = socket.BufSize(v, socket.MinRcvBuf), true
		return nil
	case [2]int{linux.SOL_SOCKET, linux.SO_REUSEADDR}:
		e.reuseAddr = v != 0
		return nil
	case [2]int{linux.SOL_SOCKET, linux.SO_REUSEPORT}:
		e.reusePort = v != 0
		return nil
	case [2]int{linux.SOL_IPV6, linux.IPV6_V6ONLY}:
		if e.bound {
			return linux.EINVAL
		}
		e.v6only = v != 0
		return nil
	case [2]int{linux.SOL_TCP, linux.TCP_NODELAY}, tcpCork:
		// Turning Nagle off, or taking the cork out, pushes what
		// MSG_MORE or the cork held back (Linux's
		// tcp_push_pending_frames). TCP_NODELAY pushes once (its
		// TCP_NAGLE_PUSH): the cork stays.
		if (name == linux.TCP_NODELAY) == (v != 0) {
			e.pushHeldLocked()
		}
	case udpCork:
		if v == 0 {
			e.pushCorkLocked()
		}
	}
	k := [2]int{level, name}
	if _, ok := storedDefaults[k]; !ok {
		return linux.ENOPROTOOPT
	}
	if e.opts == nil {
		e.opts = map[[2]int]int32{}
	}
	switch k {
	case [2]int{linux.SOL_SOCKET, linux.SO_RCVLOWAT}, [2]int{linux.SOL_SOCKET, linux.SO_PRIORITY},
		[2]int{linux.SOL_TCP, linux.TCP_KEEPIDLE}, [2]int{linux.SOL_TCP, linux.TCP_KEEPINTVL},
		[2]int{linux.SOL_TCP, linux.TCP_KEEPCNT}, [2]int{linux.SOL_TCP, linux.TCP_SYNCNT},
		[2]int{linux.SOL_TCP, linux.TCP_LINGER2}, [2]int{linux.SOL_TCP, linux.TCP_DEFER_ACCEPT},
		[2]int{linux.SOL_TCP, linux.TCP_USER_TIMEOUT}, [2]int{linux.SOL_TCP, linux.TCP_MAXSEG},
		[2]int{linux.SOL_IP, linux.IP_TOS}, [2]int{linux.SOL_IP, linux.IP_TTL},
		[2]int{linux.SOL_IP, linux.IP_MTU_DISCOVER}, [2]int{linux.SOL_IP, linux.IP_MULTICAST_TTL},
		[2]int{linux.SOL_IPV6, linux.IPV6_TCLASS}, [2]int{linux.SOL_IPV6, linux.IPV6_UNICAST_HOPS},
		[2]int{linux.SOL_IPV6, linux.IPV6_MULTICAST_HOPS}:
		switch k {
		case [2]int{linux.SOL_IP, linux.IP_TTL}:
			// Linux: 1 to 255, or -1 for the default.
			if v != -1 && (v < 1 || v > 255) {
				return linux.EINVAL
			}
		case [2]int{linux.SOL_IPV6, linux.IPV6_UNICAST_HOPS}, [2]int{linux.SOL_IP, linux.IP_MULTICAST_TTL},
			[2]int{linux.SOL_IPV6, linux.IPV6_MULTICAST_HOPS}, [2]int{linux.SOL_IPV6, linux.IPV6_TCLASS}:
			if v < -1 || v > 255 {
				return linux.EINVAL
			}
		}
		if k == [2]int{linux.SOL_IP, linux.IP_TOS} {
			v &= 0xff // Linux keeps a byte
		}
		if v == -1 {
			switch k {
			case [2]int{linux.SOL_IPV6, linux.IPV6_TCLASS}:
				v = 0
			case [2]int{linux.SOL_IP, linux.IP_TTL}, [2]int{linux.SOL_IPV6, linux.IPV6_UNICAST_HOPS}:
				v = 64
			case [2]int{linux.SOL_IP, linux.IP_MULTICAST_TTL}, [2]int{linux.SOL_IPV6, linux.IPV6_MULTICAST_HOPS}:
				v = 1
			}
		}
		if e.tcp() && (k == [2]int{linux.SOL_IP, linux.IP_TOS} || k == [2]int{linux.SOL_IPV6, linux.IPV6_TCLASS}) {
			// TCP owns the ECN bits (Linux's __ip_sock_set_tos).
			v = v&^3 | e.opts[k]&3
		}
	default:
		if v != 0 {
			v = 1
		}
	}
	e.opts[k] = v
	return nil
}

// GetSockOpt implements socket.Socket.
func (e *endpoint) GetSockOpt(ctx vfs.Context, level, name, size int) ([]byte, error) {
	if !e.levelOK(level) {
		if e.family == linux.AF_INET {
			// An IPv4 socket passes other levels to
			// ip_getsockopt, which refuses them so.
			return nil, linux.EOPNOTSUPP
		}
		return nil, linux.ENOPROTOOPT
	}
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	var v int32
	b2i := func(b bool) int32 {
		if b {
			return 1
		}
		return 0
	}
	switch [2]int{level, name} {
	case [2]int{linux.SOL_SOCKET, linux.SO_TYPE}:
		v = int32(e.stype)
	case [2]int{linux.SOL_SOCKET, linux.SO_DOMAIN}:
		v = int32(e.family)
	case [2]int{linux.SOL_SOCKET, linux.SO_PROTOCOL}:
		v = int32(e.protocol)
	case [2]int{linux.SOL_SOCKET, linux.SO_ACCEPTCONN}:
		v = b2i(e.state == stateListening)
	case [2]int{linux.SOL_SOCKET, linux.SO_ERROR}:
		v = int32(e.takeErrLocked())
	case [2]int{linux.SOL_SOCKET, linux.SO_SNDBUF}:
		v = int32(e.sndbuf)
	case [2]int{linux.SOL_SOCKET, linux.SO_RCVBUF}:
		v = int32(e.rcvbuf)
	case [2]int{linux.SOL_SOCKET, linux.SO_REUSEADDR}:
		v = b2i(e.reuseAddr)
	case [2]int{linux.SOL_SOCKET, linux.SO_REUSEPORT}:
		v = b2i(e.reusePort)
	case [2]int{linux.SOL_IPV6, linux.IPV6_V6ONLY}:
		v = b2i(e.v6only)
	case [2]int{linux.SOL_SOCKET, linux.SO_LINGER}:
		return append([]byte(nil), e.linger[:]...), nil
	case [2]int{linux.SOL_SOCKET, linux.SO_RCVTIMEO}, [2]int{linux.SOL_SOCKET, linux.SO_SNDTIMEO}:
		d := e.rcvTimeo
		if name == linux.SO_SNDTIMEO {
			d = e.sndTimeo
		}
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
		binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
		return b, nil
	default:
		k := [2]int{level, name}
		d, ok := storedDefaults[k]
		if !ok {
			return nil, linux.ENOPROTOOPT
		}
		v = d
		if x, ok := e.opts[k]; ok {
			v = x
		}
	}
	return socket.Int32(v), nil
}
