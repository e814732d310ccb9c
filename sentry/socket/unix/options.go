package unix

import (
	"encoding/binary"
	"time"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// SetSockOpt implements socket.Socket: SOL_SOCKET options only (other
// levels are EOPNOTSUPP for AF_UNIX, as Linux).
func (e *endpoint) SetSockOpt(ctx vfs.Context, level, name int, val []byte) error {
	if level != linux.SOL_SOCKET {
		return linux.EOPNOTSUPP
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
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
		d := time.Duration(0)
		if sec > 0 || usec > 0 {
			d = time.Duration(max(sec, 0))*time.Second + time.Duration(usec)*time.Microsecond
		}
		if name == linux.SO_RCVTIMEO {
			e.rcvTimeo = d
		} else {
			e.sndTimeo = d
		}
		if h := e.hostOf(); h != nil {
			h.SetTimeouts(e.rcvTimeo, e.sndTimeo)
		}
		return nil
	case linux.SO_LINGER:
		if len(val) < 8 {
			return linux.EINVAL
		}
		copy(e.linger[:], val)
		return nil
	}
	v, err := socket.OptInt(val)
	if err != nil {
		return err
	}
	switch name {
	case linux.SO_SNDBUF:
		e.sndbuf = socket.BufSize(v, socket.MinSndBuf)
		e.Notify(vfs.WritableEvents)
	case linux.SO_RCVBUF:
		e.rcvbuf = socket.BufSize(v, socket.MinRcvBuf)
	case linux.SO_PASSCRED:
		e.passcred = v != 0
	case linux.SO_REUSEADDR, linux.SO_REUSEPORT, linux.SO_KEEPALIVE, linux.SO_BROADCAST,
		linux.SO_OOBINLINE, linux.SO_PASSSEC, linux.SO_TIMESTAMP, linux.SO_DONTROUTE,
		linux.SO_PRIORITY, linux.SO_RCVLOWAT, linux.SO_SNDLOWAT:
		if e.opts == nil {
			e.opts = map[int]int32{}
		}
		if name != linux.SO_PRIORITY && name != linux.SO_RCVLOWAT && name != linux.SO_SNDLOWAT && v != 0 {
			v = 1
		}
		e.opts[name] = v
	default:
		return linux.ENOPROTOOPT
	}
	return nil
}

// GetSockOpt implements socket.Socket.
func (e *endpoint) GetSockOpt(ctx vfs.Context, level, name, size int) ([]byte, error) {
	if level != linux.SOL_SOCKET {
		return nil, linux.EOPNOTSUPP
	}
	if h := e.hostOf(); h != nil {
		if b, ok, err := e.hostSockOpt(h, name); ok {
			return b, err
		}
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	var v int32
	switch name {
	case linux.SO_TYPE:
		v = int32(e.stype)
	case linux.SO_DOMAIN:
		v = linux.AF_UNIX
	case linux.SO_PROTOCOL:
		v = 0
	case linux.SO_ACCEPTCONN:
		if e.state == stateListening {
			v = 1
		}
	case linux.SO_ERROR:
		v = int32(e.takeErrLocked())
	case linux.SO_SNDBUF:
		v = int32(e.sndbuf)
	case linux.SO_RCVBUF:
		v = int32(e.rcvbuf)
	case linux.SO_PASSCRED:
		if e.passcred {
			v = 1
		}
	case linux.SO_PEERCRED:
		b := make([]byte, 12)
		// Linux's cred_to_ucred without credentials: pid 0, ids -1.
		c := socket.Creds{PID: 0, UID: ^uint32(0), GID: ^uint32(0)}
		if e.hasPeerCreds {
			c = e.peerCreds
		}
		if t, ok := ctx.(*kernel.Task); ok {
			// A root-namespace pid, as the caller's namespace sees it.
			c.PID = int32(t.PIDNamespace().IDOfRootID(kernel.ThreadID(c.PID)))
		}
		binary.LittleEndian.PutUint32(b, uint32(c.PID))
		binary.LittleEndian.PutUint32(b[4:], c.UID)
		binary.LittleEndian.PutUint32(b[8:], c.GID)
		return b, nil
	case linux.SO_RCVTIMEO, linux.SO_SNDTIMEO:
		d := e.rcvTimeo
		if name == linux.SO_SNDTIMEO {
			d = e.sndTimeo
		}
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
		binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
		return b, nil
	case linux.SO_LINGER:
		return append([]byte(nil), e.linger[:]...), nil
	case linux.SO_RCVLOWAT, linux.SO_SNDLOWAT:
		v = 1
		if x, ok := e.opts[name]; ok {
			v = x
		}
	case linux.SO_REUSEADDR, linux.SO_REUSEPORT, linux.SO_KEEPALIVE, linux.SO_BROADCAST,
		linux.SO_OOBINLINE, linux.SO_PASSSEC, linux.SO_TIMESTAMP, linux.SO_DONTROUTE, linux.SO_PRIORITY:
		v = e.opts[name]
	default:
		return nil, linux.ENOPROTOOPT
	}
	return socket.Int32(v), nil
}
