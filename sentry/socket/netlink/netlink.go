// Package netlink implements AF_NETLINK sockets of protocol NETLINK_ROUTE
// (SOCK_RAW and SOCK_DGRAM) far enough for interface discovery: dumps of
// RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE answered from the stack's
// interfaces (socket.Stack.Interfaces), NLMSG_ERROR with Linux's errno
// for the rest, bind with port id autoassignment and getsockname. There
// is no multicast: groups are accepted and never receive anything.
//
// Lock order: Family.mu (all netlink socket state of a stack), then an
// endpoint's vfs.WaitQueue.
package netlink

import (
	"encoding/binary"
	"sync"
	"time"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

const (
	sizeofSockaddrNL = 12
	sizeofNlmsghdr   = 16
	// autobindFirst is where Linux's netlink_autobind counts down from
	// when the thread group id is taken.
	autobindFirst = -4096
)

// Family is the AF_NETLINK family of one stack.
type Family struct {
	stack *socket.Stack
	// mu protects every endpoint's mutable state and the tables below.
	mu sync.Mutex
	// ports maps bound port ids to their endpoint.
	ports map[uint32]*endpoint
	// rover is the next negative port id autobind tries.
	rover int32
}

// Install registers a new netlink family with s.
func Install(s *socket.Stack) *Family {
	f := &Family{stack: s, ports: map[uint32]*endpoint{}, rover: autobindFirst}
	s.Register(linux.AF_NETLINK, f)
	return f
}

// Socket implements socket.Provider.
func (f *Family) Socket(ctx vfs.Context, stype, protocol int, flags uint32) (*vfs.FileDescription, error) {
	if stype != linux.SOCK_RAW && stype != linux.SOCK_DGRAM {
		return nil, linux.ESOCKTNOSUPPORT
	}
	if protocol != linux.NETLINK_ROUTE {
		return nil, linux.EPROTONOSUPPORT
	}
	e := &endpoint{fam: f, stype: stype, sndbuf: socket.DefaultBufSize, rcvbuf: socket.DefaultBufSize}
	if t, ok := ctx.(*kernel.Task); ok {
		e.ino = t.Kernel().VFS.NextAnonIno()
	}
	e.fd = vfs.NewFileDescription(e, vfs.VirtualDentry{}, linux.O_RDWR|flags&linux.O_NONBLOCK, vfs.FileDescriptionOptions{})
	return e.fd, nil
}

// Pair implements socket.Provider: netlink has no socketpair.
func (f *Family) Pair(vfs.Context, int, int, uint32) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, linux.EOPNOTSUPP
}

// endpoint is one netlink socket.
type endpoint struct {
	vfs.FileDescriptionDefaultImpl
	vfs.WaitQueue
	fd    *vfs.FileDescription
	fam   *Family
	stype int
	ino   uint64

	// The fields below are protected by fam.mu.
	portID uint32
	bound  bool
	groups uint32
	// dstPort and dstGroups are connect's destination.
	dstPort, dstGroups uint32
	rq                 socket.Queue[uint32]
	soErr              linux.Errno
	sndbuf, rcvbuf     int
	rcvTimeo           time.Duration
	// opts are the SOL_NETLINK options, only stored and read back
	// (NETLINK_CAP_ACK also caps error messages).
	opts     map[int]int32
	released bool
}

// Family implements socket.Socket.
func (e *endpoint) Family() int { return linux.AF_NETLINK }

// Type implements socket.Socket.
func (e *endpoint) Type() int { return e.stype }

// Protocol implements socket.Socket.
func (e *endpoint) Protocol() int { return linux.NETLINK_ROUTE }

// Stat implements vfs.FileDescriptionImpl.
func (e *endpoint) Stat(vfs.Context) (vfs.Stat, error) { return socket.Stat(e.ino), nil }

// Release implements vfs.FileDescriptionImpl.
func (e *endpoint) Release(ctx vfs.Context) {
	e.fam.mu.Lock()
	e.released = true
	if e.bound && e.fam.ports[e.portID] == e {
		delete(e.fam.ports, e.portID)
	}
	e.rq.Drain(nil)
	e.fam.mu.Unlock()
}

// Readiness implements vfs.Waitable.
func (e *endpoint) Readiness(mask uint32) uint32 {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	r := uint32(vfs.WritableEvents | vfs.EventWrBand)
	if !e.rq.Empty() {
		r |= vfs.ReadableEvents
	}
	if e.soErr != 0 {
		r |= vfs.EventErr
	}
	return r & mask
}

func sockaddr(port, groups uint32) []byte {
	b := make([]byte, sizeofSockaddrNL)
	binary.LittleEndian.PutUint16(b, linux.AF_NETLINK)
	binary.LittleEndian.PutUint32(b[4:], port)
	binary.LittleEndian.PutUint32(b[8:], groups)
	return b
}

// parseAddr decodes a sockaddr_nl (EINVAL if short or of another
// family, as Linux's netlink_bind).
func parseAddr(b []byte) (port, groups uint32, err error) {
	if len(b) < sizeofSockaddrNL {
		return 0, 0, linux.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != linux.AF_NETLINK {
		return 0, 0, linux.EINVAL
	}
	return binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]), nil
}

// autobindLocked gives e a port id: the thread group id if free, else a
// negative one, as Linux's netlink_autobind.
func (e *endpoint) autobindLocked(ctx vfs.Context) {
	if e.bound {
		return
	}
	var id uint32
	if t, ok := ctx.(*kernel.Task); ok {
		id = uint32(t.Getpid())
	}
	for id == 0 || e.fam.ports[id] != nil {
		id = uint32(e.fam.rover)
		e.fam.rover--
		if e.fam.rover > autobindFirst {
			e.fam.rover = autobindFirst
		}
	}
	e.portID, e.bound = id, true
	e.fam.ports[id] = e
}

// Bind implements socket.Socket.
func (e *endpoint) Bind(ctx vfs.Context, b []byte) error {
	port, groups, err := parseAddr(b)
	if err != nil {
		return err
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	if e.bound {
		if port != e.portID {
			return linux.EINVAL
		}
	} else if port == 0 {
		e.autobindLocked(ctx)
	} else {
		if e.fam.ports[port] != nil {
			return linux.EADDRINUSE
		}
		e.portID, e.bound = port, true
		e.fam.ports[port] = e
	}
	e.groups = groups
	return nil
}

// Listen implements socket.Socket.
func (e *endpoint) Listen(vfs.Context, int) error { return linux.EOPNOTSUPP }

// Accept implements socket.Socket.
func (e *endpoint) Accept(vfs.Context, int) (*vfs.FileDescription, []byte, error) {
	return nil, nil, linux.EOPNOTSUPP
}

// Connect implements socket.Socket.
func (e *endpoint) Connect(ctx vfs.Context, b []byte) error {
	if len(b) >= 2 && binary.LittleEndian.Uint16(b) == linux.AF_UNSPEC {
		e.fam.mu.Lock()
		e.dstPort, e.dstGroups = 0, 0
		e.fam.mu.Unlock()
		return nil
	}
	port, groups, err := parseAddr(b)
	if err != nil {
		return err
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	e.autobindLocked(ctx)
	e.dstPort, e.dstGroups = port, groups
	return nil
}

// Shutdown implements socket.Socket: netlink has none (sock_no_shutdown).
func (e *endpoint) Shutdown(vfs.Context, int) error { return linux.EOPNOTSUPP }

// SockName implements socket.Socket.
func (e *endpoint) SockName() []byte {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	return sockaddr(e.portID, e.groups)
}

// PeerName implements socket.Socket: the kernel unless connected
// elsewhere, as Linux's netlink_getname.
func (e *endpoint) PeerName() ([]byte, error) {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	return sockaddr(e.dstPort, e.dstGroups), nil
}

// PRead implements read(2).
func (e *endpoint) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	var res socket.RecvResult
	err := e.RecvMsg(ctx, dst, 0, &res)
	return res.N, err
}

// PWrite implements write(2).
func (e *endpoint) PWrite(ctx vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	n, err := e.SendMsg(ctx, src, nil, nil, 0)
	return n, off, err
}

// SendMsg implements socket.Socket: each request in src is answered into
// the receive queue (to the kernel, port 0), or src is delivered to
// another netlink socket's port.
func (e *endpoint) SendMsg(ctx vfs.Context, src []byte, to []byte, ctl *socket.ControlMessages, flags int) (int, error) {
	if ctl != nil {
		ctl.Release(ctx)
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	dst := e.dstPort
	if to != nil {
		port, groups, err := parseAddr(to)
		if err != nil {
			return 0, err
		}
		if groups != 0 {
			if cr := ctx.Credentials(); cr == nil || !cr.HasCapability(12) { // CAP_NET_ADMIN
				return 0, linux.EPERM
			}
		}
		dst = port
	}
	if len(src) > e.sndbuf-32 {
		return 0, linux.EMSGSIZE
	}
	e.autobindLocked(ctx)
	if dst != 0 {
		r := e.fam.ports[dst]
		if r == nil || r.released {
			return 0, linux.ECONNREFUSED
		}
		if r.rq.Bytes+len(src) > r.rcvbuf {
			if e.nonblocking(flags) {
				return 0, linux.EAGAIN
			}
			r.soErr = linux.ENOBUFS
			r.Notify(vfs.EventErr)
			return len(src), nil
		}
		r.rq.Push(socket.Message[uint32]{Data: append(r.rq.Buf(len(src)), src...), From: e.portID})
		r.Notify(vfs.ReadableEvents)
		return len(src), nil
	}
	e.handleLocked(ctx, src)
	return len(src), nil
}

func (e *endpoint) nonblocking(flags int) bool {
	return flags&linux.MSG_DONTWAIT != 0 || e.fd.StatusFlags()&linux.O_NONBLOCK != 0
}

// RecvMsg implements socket.Socket.
func (e *endpoint) RecvMsg(ctx vfs.Context, dst []byte, flags int, res *socket.RecvResult) error {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	for e.rq.Empty() {
		if e.soErr != 0 {
			err := e.soErr
			e.soErr = 0
			return err
		}
		if e.nonblocking(flags) {
			return linux.EAGAIN
		}
		if err := socket.WaitLocked(ctx, &e.WaitQueue, vfs.ReadableEvents, &e.fam.mu, e.rcvTimeo); err != nil {
			return err
		}
	}
	m := e.rq.Front()
	res.N = copy(dst, m.Data)
	res.MsgLen = len(m.Data)
	if res.N < len(m.Data) {
		res.Flags |= linux.MSG_TRUNC
	}
	res.From = sockaddr(m.From, 0)
	if flags&linux.MSG_PEEK == 0 {
		e.rq.Pop()
	}
	return nil
}

// Ioctl implements vfs.FileDescriptionImpl: the interface ioctls.
func (e *endpoint) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	if socket.IsInterfaceIoctl(cmd) {
		return socket.InterfaceIoctl(ctx, cmd, arg)
	}
	return 0, linux.ENOTTY
}

// SetSockOpt implements socket.Socket.
func (e *endpoint) SetSockOpt(ctx vfs.Context, level, name int, val []byte) error {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	switch level {
	case linux.SOL_SOCKET:
		if name == linux.SO_RCVTIMEO || name == linux.SO_SNDTIMEO {
			if len(val) < 16 {
				return linux.EINVAL
			}
			if name == linux.SO_RCVTIMEO {
				sec := int64(binary.LittleEndian.Uint64(val))
				usec := int64(binary.LittleEndian.Uint64(val[8:]))
				if usec < 0 || usec >= 1e6 {
					return linux.EDOM
				}
				e.rcvTimeo = time.Duration(max(sec, 0))*time.Second + time.Duration(max(usec, 0))*time.Microsecond
			}
			return nil
		}
		v, err := socket.OptInt(val)
		if err != nil {
			return err
		}
		switch name {
		case linux.SO_SNDBUF, linux.SO_SNDBUFFORCE:
			e.sndbuf = socket.BufSize(v, socket.MinSndBuf)
		case linux.SO_RCVBUF, linux.SO_RCVBUFFORCE:
			e.rcvbuf = socket.BufSize(v, socket.MinRcvBuf)
		case linux.SO_PASSCRED, linux.SO_TIMESTAMP, linux.SO_PRIORITY, linux.SO_ATTACH_FILTER:
		default:
			return linux.ENOPROTOOPT
		}
		return nil
	case linux.SOL_NETLINK:
		v, err := socket.OptInt(val)
		if err != nil {
			return err
		}
		switch name {
		case linux.NETLINK_ADD_MEMBERSHIP, linux.NETLINK_DROP_MEMBERSHIP:
			return nil
		case linux.NETLINK_PKTINFO, linux.NETLINK_BROADCAST_ERROR, linux.NETLINK_NO_ENOBUFS,
			linux.NETLINK_LISTEN_ALL_NSID, linux.NETLINK_CAP_ACK, linux.NETLINK_EXT_ACK,
			linux.NETLINK_GET_STRICT_CHK:
			if e.opts == nil {
				e.opts = map[int]int32{}
			}
			if v != 0 {
				v = 1
			}
			e.opts[name] = v
			return nil
		}
	}
	return linux.ENOPROTOOPT
}

// GetSockOpt implements socket.Socket.
func (e *endpoint) GetSockOpt(ctx vfs.Context, level, name, size int) ([]byte, error) {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	var v int32
	switch level {
	case linux.SOL_SOCKET:
		switch name {
		case linux.SO_TYPE:
			v = int32(e.stype)
		case linux.SO_DOMAIN:
			v = linux.AF_NETLINK
		case linux.SO_PROTOCOL:
			v = linux.NETLINK_ROUTE
		case linux.SO_ERROR:
			v = int32(e.soErr)
			e.soErr = 0
		case linux.SO_SNDBUF:
			v = int32(e.sndbuf)
		case linux.SO_RCVBUF:
			v = int32(e.rcvbuf)
		case linux.SO_ACCEPTCONN:
		default:
			return nil, linux.ENOPROTOOPT
		}
	case linux.SOL_NETLINK:
		if size < 4 {
			return nil, linux.EINVAL
		}
		switch name {
		case linux.NETLINK_PKTINFO, linux.NETLINK_BROADCAST_ERROR, linux.NETLINK_NO_ENOBUFS,
			linux.NETLINK_LISTEN_ALL_NSID, linux.NETLINK_CAP_ACK, linux.NETLINK_EXT_ACK,
			linux.NETLINK_GET_STRICT_CHK:
			v = e.opts[name]
		default:
			return nil, linux.ENOPROTOOPT
		}
	default:
		return nil, linux.ENOPROTOOPT
	}
	return socket.Int32(v), nil
}
