package hostinet

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

var _ socket.Socket = (*endpoint)(nil)

// allowed are the socket options passed on to the host, by level; the
// value is the largest size the host may be asked to read or write.
// Anything else is ENOPROTOOPT without reaching the host. Read-only.
var allowed = map[int]map[int]int{
	unix.SOL_SOCKET: {
		unix.SO_REUSEADDR: 4, unix.SO_REUSEPORT: 4, unix.SO_KEEPALIVE: 4, unix.SO_BROADCAST: 4,
		unix.SO_LINGER: 8, unix.SO_SNDBUF: 4, unix.SO_RCVBUF: 4, unix.SO_OOBINLINE: 4,
		unix.SO_PRIORITY: 4, unix.SO_RCVLOWAT: 4, unix.SO_SNDLOWAT: 4, unix.SO_DONTROUTE: 4,
		unix.SO_ERROR: 4, unix.SO_TYPE: 4, unix.SO_DOMAIN: 4, unix.SO_PROTOCOL: 4,
		unix.SO_ACCEPTCONN: 4,
	},
	unix.SOL_TCP: {
		unix.TCP_NODELAY: 4, unix.TCP_CORK: 4, unix.TCP_KEEPIDLE: 4, unix.TCP_KEEPINTVL: 4,
		unix.TCP_KEEPCNT: 4, unix.TCP_MAXSEG: 4, unix.TCP_QUICKACK: 4, unix.TCP_USER_TIMEOUT: 4,
		unix.TCP_DEFER_ACCEPT: 4, unix.TCP_INFO: 256, unix.TCP_CONGESTION: 16,
		unix.TCP_FASTOPEN: 4, unix.TCP_NOTSENT_LOWAT: 4, unix.TCP_SYNCNT: 4, unix.TCP_LINGER2: 4,
		unix.TCP_WINDOW_CLAMP: 4,
	},
	unix.SOL_IP: {
		unix.IP_TOS: 4, unix.IP_TTL: 4, unix.IP_MTU_DISCOVER: 4, unix.IP_FREEBIND: 4,
		unix.IP_BIND_ADDRESS_NO_PORT: 4, unix.IP_MULTICAST_TTL: 4, unix.IP_MULTICAST_LOOP: 4,
		unix.IP_MULTICAST_IF: 12, unix.IP_ADD_MEMBERSHIP: 12, unix.IP_DROP_MEMBERSHIP: 12,
	},
	unix.SOL_IPV6: {
		unix.IPV6_V6ONLY: 4, unix.IPV6_TCLASS: 4, unix.IPV6_UNICAST_HOPS: 4,
		unix.IPV6_MTU_DISCOVER: 4, unix.IPV6_MULTICAST_HOPS: 4, unix.IPV6_MULTICAST_LOOP: 4,
		unix.IPV6_MULTICAST_IF: 4, unix.IPV6_JOIN_GROUP: 20, unix.IPV6_LEAVE_GROUP: 20,
	},
}

// levelOK reports whether level applies to the socket (Linux:
// ENOPROTOOPT for TCP options on UDP, EOPNOTSUPP-like otherwise).
func (e *endpoint) levelOK(level int) bool {
	switch level {
	case unix.SOL_TCP:
		return e.stype == unix.SOCK_STREAM
	case unix.SOL_IPV6:
		return e.family == unix.AF_INET6
	}
	return true
}

// SetSockOpt implements socket.Socket.
func (e *endpoint) SetSockOpt(ctx vfs.Context, level, name int, val []byte) error {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		if len(val) < 16 {
			return unix.EINVAL
		}
		sec := int64(binary.LittleEndian.Uint64(val))
		usec := int64(binary.LittleEndian.Uint64(val[8:]))
		if usec < 0 || usec >= 1e6 {
			return unix.EDOM
		}
		d := time.Duration(max(sec, 0))*time.Second + time.Duration(usec)*time.Microsecond
		if sec < 0 {
			d = 0
		}
		if name == unix.SO_RCVTIMEO {
			e.rcvTimeo.Store(int64(d))
		} else {
			e.sndTimeo.Store(int64(d))
		}
		return nil
	}
	max, ok := allowed[level][name]
	if !ok || !e.levelOK(level) {
		return unix.ENOPROTOOPT
	}
	if len(val) > max {
		val = val[:max]
	}
	return hostSetsockopt(e.hfd, level, name, val)
}

// GetSockOpt implements socket.Socket.
func (e *endpoint) GetSockOpt(ctx vfs.Context, level, name, size int) ([]byte, error) {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		d := time.Duration(e.rcvTimeo.Load())
		if name == unix.SO_SNDTIMEO {
			d = time.Duration(e.sndTimeo.Load())
		}
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
		binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
		return b, nil
	}
	max, ok := allowed[level][name]
	if !ok || !e.levelOK(level) {
		return nil, unix.ENOPROTOOPT
	}
	if size < 0 {
		return nil, unix.EINVAL
	}
	return hostGetsockopt(e.hfd, level, name, min(size, max))
}
