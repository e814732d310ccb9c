// Package hostinet is --network=host: AF_INET and AF_INET6 TCP and UDP
// sockets that are host sockets the sentry opens and drives on the
// application's behalf. Each application socket owns one non-blocking
// host descriptor; blocking, SO_RCVTIMEO/SO_SNDTIMEO and SIGPIPE are the
// sentry's (the host never blocks a sentry thread or signals the sentry),
// readiness comes from a host epoll instance per stack (fs/host.Notifier), and
// only allow-listed socket options and ioctls reach the host
// (options.go). Raw and packet sockets are refused.
//
// The same machinery backs AF_UNIX sockets whose peer or listener is a
// host socket (--host-uds, wrap.go): sentry/socket/unix keeps the socket
// file and hands the host descriptor, donated by the gofer, to an
// endpoint made by Net.Wrap.
//
// Lock order: an endpoint has no lock of its own besides its
// vfs.WaitQueue (the host serializes operations on the descriptor);
// Net.mu and notifier.mu are leaves.
package hostinet

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/host"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// Net is the host network of one stack.
type Net struct {
	notifier host.Notifier

	// mu protects all, the open endpoints (for /proc/net).
	mu  sync.Mutex
	all map[*endpoint]struct{}
}

// Install registers host AF_INET and AF_INET6 with s, and refuses
// AF_PACKET as Linux does an unprivileged caller.
func Install(s *socket.Stack) *Net {
	n := NewNet()
	s.Register(unix.AF_INET, provider{n, unix.AF_INET})
	s.Register(unix.AF_INET6, provider{n, unix.AF_INET6})
	s.Register(unix.AF_PACKET, refused{})
	return n
}

// NewNet returns a host network that no stack uses yet: Install's, or the
// host side of other families' sockets (Wrap).
func NewNet() *Net {
	n := &Net{all: map[*endpoint]struct{}{}}
	// The host epoll instance is made now, at start-up, so that the
	// sentry's seccomp filter need not allow epoll_create1.
	n.notifier.Start()
	return n
}

type provider struct {
	net    *Net
	family int
}

// Socket implements socket.Provider.
func (p provider) Socket(ctx vfs.Context, stype, protocol int, flags uint32) (*vfs.FileDescription, error) {
	switch stype {
	case unix.SOCK_STREAM:
		if protocol != 0 && protocol != unix.IPPROTO_TCP {
			return nil, unix.EPROTONOSUPPORT
		}
		protocol = unix.IPPROTO_TCP
	case unix.SOCK_DGRAM:
		switch protocol {
		case 0, unix.IPPROTO_UDP:
			protocol = unix.IPPROTO_UDP
		case unix.IPPROTO_ICMP, unix.IPPROTO_ICMPV6:
			// Ping sockets: outside every ping_group_range.
			return nil, unix.EACCES
		default:
			return nil, unix.EPROTONOSUPPORT
		}
	case unix.SOCK_RAW, unix.SOCK_PACKET:
		return nil, unix.EPERM
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	fd, err := unix.Socket(p.family, stype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, protocol)
	if err != nil {
		return nil, err
	}
	e, err := p.net.newEndpoint(ctx, fd, p.family, stype, protocol, flags)
	if err != nil {
		return nil, err
	}
	return e.fd, nil
}

// Pair implements socket.Provider: Linux has no socketpair for inet.
func (provider) Pair(vfs.Context, int, int, uint32) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, unix.EOPNOTSUPP
}

// refused is a family the sandbox may not open (EPERM).
type refused struct{}

func (refused) Socket(vfs.Context, int, int, uint32) (*vfs.FileDescription, error) {
	return nil, unix.EPERM
}

func (refused) Pair(vfs.Context, int, int, uint32) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, unix.EPERM
}

// endpoint is one application socket backed by the host descriptor hfd.
type endpoint struct {
	vfs.FileDescriptionDefaultImpl
	vfs.WaitQueue
	// fd is the socket file: its status flags say whether calls block.
	// q receives the host's readiness edges and is what blocking calls
	// wait on. Both are the endpoint's own, except for an endpoint made
	// by Wrap, whose socket file belongs to another family.
	fd       *vfs.FileDescription
	q        *vfs.WaitQueue
	net      *Net
	hfd      int
	family   int
	stype    int
	protocol int
	ino      uint64
	// uid is the creator's effective uid (/proc/net's owner).
	uid uint32
	// rcvTimeo and sndTimeo are SO_RCVTIMEO and SO_SNDTIMEO in
	// nanoseconds, kept by the sentry (the host descriptor never blocks).
	rcvTimeo, sndTimeo atomic.Int64
}

func (n *Net) newEndpoint(ctx vfs.Context, hfd, family, stype, protocol int, flags uint32) (*endpoint, error) {
	e := &endpoint{net: n, hfd: hfd, family: family, stype: stype, protocol: protocol, uid: socket.CredsOf(ctx).UID}
	e.q = &e.WaitQueue
	if err := n.notifier.Add(hfd, e.q); err != nil {
		unix.Close(hfd)
		return nil, unix.ENOMEM
	}
	if t, ok := ctx.(*kernel.Task); ok {
		e.ino = t.Kernel().VFS.NextAnonIno()
	}
	e.fd = vfs.NewFileDescription(e, vfs.VirtualDentry{}, unix.O_RDWR|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	n.track(e)
	return e, nil
}

// track adds e to the open endpoints.
func (n *Net) track(e *endpoint) {
	n.mu.Lock()
	n.all[e] = struct{}{}
	n.mu.Unlock()
}

// Family implements socket.Socket.
func (e *endpoint) Family() int { return e.family }

// Type implements socket.Socket.
func (e *endpoint) Type() int { return e.stype }

// Protocol implements socket.Socket.
func (e *endpoint) Protocol() int { return e.protocol }

// Stat implements vfs.FileDescriptionImpl.
func (e *endpoint) Stat(vfs.Context) (vfs.Stat, error) { return socket.Stat(e.ino), nil }

// Release implements vfs.FileDescriptionImpl.
func (e *endpoint) Release(vfs.Context) {
	e.net.mu.Lock()
	delete(e.net.all, e)
	e.net.mu.Unlock()
	e.net.notifier.Remove(e.hfd, e.q)
	unix.Close(e.hfd)
}

// Readiness implements vfs.Waitable with a non-blocking host poll.
func (e *endpoint) Readiness(mask uint32) uint32 {
	r, _ := host.PollReadiness(e.hfd, mask)
	return r
}

func (e *endpoint) nonblocking(flags int) bool {
	return flags&unix.MSG_DONTWAIT != 0 || e.fd.StatusFlags()&unix.O_NONBLOCK != 0
}

// wait retries op until it stops failing with EAGAIN: at once if the
// caller is non-blocking, else after each readiness edge for mask, until
// the timeout (EAGAIN, as Linux's SO_*TIMEO) or an interruption.
func (e *endpoint) wait(ctx vfs.Context, mask uint32, nonblock bool, timeout time.Duration, op func() error) error {
	err := op()
	if err != unix.EAGAIN || nonblock {
		return err
	}
	w := vfs.GetWaiter()
	entry := w.SingleEntry(mask | vfs.EventErr | vfs.EventHUp)
	e.q.EventRegister(entry)
	defer func() {
		e.q.EventUnregister(entry)
		vfs.PutWaiter(w)
	}()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if err = op(); err != unix.EAGAIN {
			return err
		}
		var err error
		if deadline.IsZero() {
			err = vfs.Block(ctx, w)
		} else {
			err = vfs.BlockDeadline(ctx, w, deadline)
		}
		if err != nil {
			if err == unix.ETIMEDOUT {
				return unix.EAGAIN
			}
			return err
		}
	}
}

// Bind implements socket.Socket.
func (e *endpoint) Bind(ctx vfs.Context, addr []byte) error {
	if err := checkAddr(e.family, addr, true); err != nil {
		return err
	}
	return hostBind(e.hfd, addr)
}

// checkAddr refuses addresses of other families before the host sees
// them (AF_UNSPEC is bind's INADDR_ANY and connect's disconnect).
func checkAddr(family int, addr []byte, bind bool) error {
	if len(addr) < 2 {
		return unix.EINVAL
	}
	f := int(addr[0]) | int(addr[1])<<8
	if f != family && f != unix.AF_UNSPEC && !(family == unix.AF_INET6 && f == unix.AF_INET && !bind) {
		if family == unix.AF_INET && len(addr) < unix.SizeofSockaddrInet4 {
			return unix.EINVAL
		}
		return unix.EAFNOSUPPORT
	}
	return nil
}

// Listen implements socket.Socket.
func (e *endpoint) Listen(ctx vfs.Context, backlog int) error {
	return unix.Listen(e.hfd, backlog)
}

// Accept implements socket.Socket.
func (e *endpoint) Accept(ctx vfs.Context, flags int) (*vfs.FileDescription, []byte, error) {
	nfd, peer, err := e.AcceptFD(ctx)
	if err != nil {
		return nil, nil, err
	}
	var fl uint32
	if flags&unix.SOCK_NONBLOCK != 0 {
		fl = unix.O_NONBLOCK
	}
	ne, err := e.net.newEndpoint(ctx, nfd, e.family, e.stype, e.protocol, fl)
	if err != nil {
		return nil, nil, err
	}
	return ne.fd, peer, nil
}

// AcceptFD waits (unless the socket file is non-blocking) for a
// connection and returns its host descriptor (non-blocking,
// close-on-exec, owned by the caller) and the peer's host address.
func (e *endpoint) AcceptFD(ctx vfs.Context) (int, []byte, error) {
	var nfd int
	var peer []byte
	err := e.wait(ctx, vfs.ReadableEvents, e.nonblocking(0), time.Duration(e.rcvTimeo.Load()), func() (err error) {
		nfd, peer, err = hostAccept4(e.hfd)
		return err
	})
	if err != nil {
		return -1, nil, err
	}
	return nfd, peer, nil
}

// Connect implements socket.Socket: a blocking connect waits for the
// host's connection to complete and reports its SO_ERROR.
func (e *endpoint) Connect(ctx vfs.Context, addr []byte) error {
	if err := checkAddr(e.family, addr, false); err != nil {
		return err
	}
	err := hostConnect(e.hfd, addr)
	// EALREADY is a blocking connect restarted after a signal: as
	// Linux's inet_stream_connect, it waits again.
	if err != unix.EINPROGRESS && err != unix.EALREADY || e.nonblocking(0) || e.stype != unix.SOCK_STREAM {
		return err
	}
	err = e.wait(ctx, vfs.WritableEvents, false, time.Duration(e.sndTimeo.Load()), func() error {
		if e.Readiness(vfs.WritableEvents|vfs.EventErr|vfs.EventHUp) == 0 {
			return unix.EAGAIN
		}
		return nil
	})
	if err == unix.EAGAIN {
		return unix.EINPROGRESS
	}
	if err != nil {
		return err
	}
	v, err := unix.GetsockoptInt(e.hfd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// Shutdown implements socket.Socket.
func (e *endpoint) Shutdown(ctx vfs.Context, how int) error {
	err := unix.Shutdown(e.hfd, how)
	e.q.Notify(vfs.ReadableEvents | vfs.WritableEvents | vfs.EventHUp | vfs.EventRdHUp)
	return err
}

// SockName implements socket.Socket.
func (e *endpoint) SockName() []byte {
	b, err := hostName(e.hfd, false)
	if err != nil {
		return []byte{byte(e.family), byte(e.family >> 8)}
	}
	return b
}

// PeerName implements socket.Socket.
func (e *endpoint) PeerName() ([]byte, error) { return hostName(e.hfd, true) }

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

// sendFlags and recvFlags are the flags passed on to the host; the
// host call is always MSG_DONTWAIT and never raises SIGPIPE.
const (
	sendFlags = unix.MSG_OOB | unix.MSG_DONTROUTE | unix.MSG_EOR | unix.MSG_MORE | unix.MSG_CONFIRM
	recvFlags = unix.MSG_OOB | unix.MSG_PEEK | unix.MSG_TRUNC
)

type sigpiper interface{ SendSIGPIPE() }

// SendMsg implements socket.Socket. Control messages are not passed to
// the host (SCM_RIGHTS has no meaning on inet sockets).
func (e *endpoint) SendMsg(ctx vfs.Context, src []byte, to []byte, ctl *socket.ControlMessages, flags int) (int, error) {
	if ctl != nil {
		ctl.Release(ctx)
	}
	if to != nil {
		if e.stype == unix.SOCK_STREAM {
			// Linux ignores the address of a connected stream.
			to = nil
		} else if err := checkAddr(e.family, to, false); err != nil {
			return 0, err
		}
	}
	hf := flags&sendFlags | unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
	done := 0
	err := e.wait(ctx, vfs.WritableEvents, e.nonblocking(flags), time.Duration(e.sndTimeo.Load()), func() error {
		for {
			n, err := hostSendmsg(e.hfd, src[done:], to, hf)
			if err != nil {
				return err
			}
			done += n
			if e.stype != unix.SOCK_STREAM || done == len(src) {
				return nil
			}
			if e.nonblocking(flags) {
				return nil
			}
		}
	})
	if done > 0 {
		return done, nil
	}
	if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		if s, ok := ctx.(sigpiper); ok {
			s.SendSIGPIPE()
		}
	}
	return 0, err
}

// RecvMsg implements socket.Socket; MSG_WAITALL on a stream gathers
// until the buffer is full, the peer shuts down or an error.
func (e *endpoint) RecvMsg(ctx vfs.Context, dst []byte, flags int, res *socket.RecvResult) error {
	hf := flags&recvFlags | unix.MSG_DONTWAIT
	if e.stype != unix.SOCK_STREAM {
		// The host then reports a datagram's real length (MsgLen).
		hf |= unix.MSG_TRUNC
	}
	waitAll := flags&unix.MSG_WAITALL != 0 && flags&unix.MSG_PEEK == 0 && e.stype == unix.SOCK_STREAM
	var from [128]byte
	done := 0
	err := e.wait(ctx, vfs.ReadableEvents, e.nonblocking(flags), time.Duration(e.rcvTimeo.Load()), func() error {
		for {
			n, fl, outFlags, err := hostRecvmsg(e.hfd, dst[done:], &from, hf)
			if err != nil {
				if done > 0 && err == unix.EAGAIN && !waitAll {
					return nil
				}
				if done > 0 && err != unix.EAGAIN {
					return nil
				}
				return err
			}
			if fl > 0 && res.From == nil && e.stype != unix.SOCK_STREAM {
				res.From = append([]byte(nil), from[:min(fl, len(from))]...)
			}
			res.Flags |= outFlags & (unix.MSG_TRUNC | unix.MSG_EOR | unix.MSG_OOB)
			if e.stype != unix.SOCK_STREAM {
				res.N = min(n, len(dst))
				res.MsgLen = n
				return nil
			}
			done += n
			if n == 0 || !waitAll || done == len(dst) {
				return nil
			}
		}
	})
	if e.stype == unix.SOCK_STREAM {
		res.N, res.MsgLen = done, done
		if done > 0 {
			return nil
		}
	}
	return err
}

// Ioctl implements vfs.FileDescriptionImpl: SIOCINQ, SIOCOUTQ and
// SIOCATMARK from the host; the interface ioctls from the stack.
func (e *endpoint) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	switch cmd {
	case unix.SIOCINQ, unix.SIOCOUTQ, unix.SIOCATMARK:
		v, err := hostIoctlInt(e.hfd, uint(cmd))
		if err != nil {
			return 0, err
		}
		if _, err := ctx.CopyOut(arg, socket.Int32(v)); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	if socket.IsInterfaceIoctl(cmd) {
		return socket.InterfaceIoctl(ctx, cmd, arg)
	}
	return 0, unix.ENOTTY
}

// InetSockets implements socket.InetLister: the sandbox's own host
// sockets of the provider's family (not the host's others), with their
// addresses and TCP state as the host reports them.
func (p provider) InetSockets(protocol int) []socket.InetInfo {
	p.net.mu.Lock()
	eps := make([]*endpoint, 0, len(p.net.all))
	for e := range p.net.all {
		if e.family == p.family && e.protocol == protocol {
			eps = append(eps, e)
		}
	}
	p.net.mu.Unlock()
	sort.Slice(eps, func(i, j int) bool { return eps[i].ino < eps[j].ino })
	var out []socket.InetInfo
	for _, e := range eps {
		local, err := hostName(e.hfd, false)
		if err != nil {
			continue
		}
		info := socket.InetInfo{Protocol: protocol, UID: e.uid, Ino: e.ino, State: socket.TCPClose}
		info.LocalIP, info.LocalPort = splitAddr(e.family, local)
		if remote, err := hostName(e.hfd, true); err == nil {
			info.RemoteIP, info.RemotePort = splitAddr(e.family, remote)
			info.State = socket.TCPEstablished
		} else {
			info.RemoteIP = make([]byte, len(info.LocalIP))
		}
		if protocol == unix.IPPROTO_TCP {
			ti, err := hostGetsockopt(e.hfd, unix.SOL_TCP, unix.TCP_INFO, 8)
			if err != nil || len(ti) == 0 || ti[0] == socket.TCPClose {
				continue
			}
			info.State = int(ti[0])
		} else if info.LocalPort == 0 {
			continue
		}
		if v, err := hostIoctlInt(e.hfd, unix.SIOCINQ); err == nil && info.State != socket.TCPListen {
			info.RxQueue = int(v)
		}
		out = append(out, info)
	}
	return out
}

// splitAddr takes the address and port out of a sockaddr_in or
// sockaddr_in6.
func splitAddr(family int, sa []byte) ([]byte, uint16) {
	if family == unix.AF_INET && len(sa) >= 8 {
		return append([]byte(nil), sa[4:8]...), uint16(sa[2])<<8 | uint16(sa[3])
	}
	if len(sa) >= 24 {
		return append([]byte(nil), sa[8:24]...), uint16(sa[2])<<8 | uint16(sa[3])
	}
	return make([]byte, 4), 0
}
