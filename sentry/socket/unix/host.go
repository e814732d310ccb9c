package unix

import (
	"path"
	"time"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/hostinet"
)

// Host-backed sockets (--host-uds; runsc/flags explains the policy).
//
// A socket file on a gofer-served tree may belong to a host process. With
// EnableHost(open), connect(2) to such a file (one no sandbox socket is
// bound to) asks the filesystem for a host socket connected to it (fs/gofer
// asks the gofer, which alone may make one); with EnableHost(create),
// bind(2) to a path in a gofer-served directory asks for a host socket
// bound there, listen(2) makes the sentry listen on it (the one socket
// call runsc/fence adds for --host-uds=create), so host processes can
// connect, and accept
// returns sockets of the connections it gets. Either way the endpoint
// keeps its socket file, names and options, and hands its data path to a
// hostinet.Endpoint on the donated host descriptor (hostinet's blocking,
// timeouts and readiness, not a second copy of them).
//
// What differs from a sandbox-internal socket, on purpose:
//   - SCM_RIGHTS cannot be sent (EPERM: sandbox files never go to the
//     host; nothing is sent), and files the host sends are dropped by
//     the host kernel (the sentry receives with no room for them:
//     MSG_CTRUNC). SCM_CREDENTIALS are not passed on.
//   - SO_PEERCRED reports the host peer's uid and gid and pid 0 (as
//     Linux does for a peer outside the reader's pid namespace).
//   - getpeername reports the sandbox path connected to, never the host's
//     name for it; accept reports an unnamed peer.
//   - A datagram socket sends only to its connected peer (sendto another
//     address is EOPNOTSUPP), and one bound to a host path cannot also
//     connect.
//   - SIOCOUTQ is ENOTTY (the sentry's seccomp filter allows no more
//     socket ioctls than FIONREAD without --network=host).

// hostConnector is a socket file that can give a host socket connected to
// it (fs/gofer's inode).
type hostConnector interface {
	HostConnect(ctx vfs.Context, stype int) (int, error)
}

// hostBinder is a directory that can make a host socket bound to a new
// name in it (fs/gofer's inode).
type hostBinder interface {
	HostBind(ctx vfs.Context, name string, stype int, mode uint32) (int, error)
}

// EnableHost lets the family's sockets use host sockets through the
// filesystem: open allows connecting to host sockets, create makes bind
// on a host-backed directory create a host socket. n wraps the host
// descriptors. Call it before the first socket is made.
func (fam *Family) EnableHost(n *hostinet.Net, open, create bool) {
	fam.mu.Lock()
	defer fam.mu.Unlock()
	fam.host, fam.hostOpen, fam.hostCreate = n, open, create
}

// hostOf returns e's host half, or nil.
func (e *endpoint) hostOf() *hostinet.Endpoint { return e.host.Load() }

// wrapHost makes hfd e's host half.
func (e *endpoint) wrapHost(hfd int) (*hostinet.Endpoint, error) {
	h, err := e.fam.host.Wrap(hfd, linux.AF_UNIX, e.stype, e.fd, &e.WaitQueue)
	if err != nil {
		return nil, err
	}
	e.fam.mu.Lock()
	rcv, snd := e.rcvTimeo, e.sndTimeo
	e.fam.mu.Unlock()
	h.SetTimeouts(rcv, snd)
	return h, nil
}

// connectHost connects e to a host socket if addr names one that the
// policy lets the sandbox reach: a host-made socket file with open, or a
// socket this family bound on the host. It reports false when addr is
// not for the host (the caller goes on as for a sandbox socket).
func (e *endpoint) connectHost(ctx vfs.Context, addr []byte) (bool, error) {
	fam := e.fam
	if fam.host == nil {
		return false, nil
	}
	name, isAbs, _, _ := parseAddr(addr)
	t, ok := ctx.(*kernel.Task)
	if isAbs || !ok {
		return false, nil
	}
	root, cwd := t.FSContext().RootAndCwd()
	defer root.DecRef()
	defer cwd.DecRef()
	pop := vfs.PathOperation{Root: root, Start: cwd, Path: name, Follow: true}
	vd, err := t.Kernel().VFS.GetDentryAt(ctx, &pop)
	if err != nil {
		return false, nil
	}
	ino := vd.Dentry().Inode()
	vd.DecRef()
	hc, ok := ino.(hostConnector)
	if !ok {
		return false, nil
	}
	fam.mu.Lock()
	l := fam.paths[ino]
	own := l != nil && l.hostOf() != nil
	fam.mu.Unlock()
	if l != nil && !own || l == nil && !fam.hostOpen {
		return false, nil
	}
	if err := t.Kernel().VFS.AccessAt(ctx, &pop, 2, true); err != nil {
		return true, err
	}
	if e.hostOf() != nil {
		// A host-bound socket is its host listener or datagram socket.
		return true, linux.EINVAL
	}
	var hfd int
	var deadline time.Time // zero: none
	waited := false
	for {
		hfd, err = hc.HostConnect(ctx, e.stype)
		if err != linux.EAGAIN {
			break
		}
		// The listener's backlog is full: Linux's blocking connect
		// waits for room (up to SO_SNDTIMEO, then EAGAIN); the gofer
		// never blocks, so ask again.
		if e.nonblocking(0) {
			return true, linux.EAGAIN
		}
		if !waited {
			waited = true
			fam.mu.Lock()
			if e.sndTimeo > 0 {
				deadline = time.Now().Add(e.sndTimeo)
			}
			fam.mu.Unlock()
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return true, linux.EAGAIN
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return true, err
		}
	}
	if err != nil {
		if err == linux.EPERM {
			// The gofer's policy refused: as without --host-uds.
			err = linux.ECONNREFUSED
		}
		return true, err
	}
	h, err := e.wrapHost(hfd)
	if err != nil {
		return true, err
	}
	fam.mu.Lock()
	if e.released || e.hostOf() != nil || e.state == stateConnected && e.stype != linux.SOCK_DGRAM {
		fam.mu.Unlock()
		h.Release(ctx)
		return true, linux.EISCONN
	}
	e.host.Store(h)
	e.state = stateConnected
	e.hostPeer = append([]byte(nil), addr...)
	fam.mu.Unlock()
	e.Notify(vfs.WritableEvents)
	return true, nil
}

// sleep blocks ctx for d, or until it is interrupted.
func sleep(ctx vfs.Context, d time.Duration) error {
	w := vfs.GetWaiter()
	defer vfs.PutWaiter(w)
	if err := vfs.BlockDeadline(ctx, w, time.Now().Add(d)); err != linux.ETIMEDOUT {
		return err
	}
	return nil
}

// bindHost binds e to a new host socket at name if the policy says so and
// name's directory is host-backed. It reports false when the caller
// should bind inside the sandbox as usual.
func (e *endpoint) bindHost(ctx vfs.Context, name string) (bool, error) {
	fam := e.fam
	if fam.host == nil || !fam.hostCreate {
		return false, nil
	}
	t, ok := ctx.(*kernel.Task)
	if !ok {
		return false, nil
	}
	dir, base := path.Split(name)
	if base == "" || base == "." || base == ".." {
		return false, nil
	}
	if dir == "" {
		dir = "."
	}
	fsc := t.FSContext()
	root, cwd := fsc.RootAndCwd()
	defer root.DecRef()
	defer cwd.DecRef()
	dpop := vfs.PathOperation{Root: root, Start: cwd, Path: dir, Follow: true}
	dvd, err := t.Kernel().VFS.GetDentryAt(ctx, &dpop)
	if err != nil {
		return false, nil
	}
	hb, ok := dvd.Dentry().Inode().(hostBinder)
	dvd.DecRef()
	if !ok {
		return false, nil
	}
	// Linux: making the name needs write and search permission.
	if err := t.Kernel().VFS.AccessAt(ctx, &dpop, 3, true); err != nil {
		return true, err
	}
	hfd, err := hb.HostBind(ctx, base, e.stype, 0o777&^fsc.Umask())
	if err != nil {
		if err == linux.EEXIST {
			err = linux.EADDRINUSE
		}
		return true, err
	}
	h, err := e.wrapHost(hfd)
	if err != nil {
		return true, err
	}
	pop := vfs.PathOperation{Root: root, Start: cwd, Path: name}
	vd, err := t.Kernel().VFS.GetDentryAt(ctx, &pop)
	if err != nil {
		h.Release(ctx)
		return true, err
	}
	a := make([]byte, 2+len(name)+1)
	a[0] = linux.AF_UNIX
	copy(a[2:], name)
	fam.mu.Lock()
	if e.addr != nil || e.released || e.hostOf() != nil {
		fam.mu.Unlock()
		vd.DecRef()
		h.Release(ctx)
		return true, linux.EINVAL
	}
	e.addr, e.bound, e.boundKey = a, vd, vd.Dentry().Inode()
	fam.paths[e.boundKey] = e
	e.host.Store(h)
	fam.mu.Unlock()
	return true, nil
}

// acceptHost accepts a connection of the host listener h.
func (e *endpoint) acceptHost(ctx vfs.Context, h *hostinet.Endpoint, flags int) (*vfs.FileDescription, []byte, error) {
	e.fam.mu.Lock()
	listening := e.state == stateListening
	e.fam.mu.Unlock()
	if !listening {
		return nil, nil, linux.EINVAL
	}
	nfd, _, err := h.AcceptFD(ctx)
	if err != nil {
		return nil, nil, err
	}
	var fl uint32
	if flags&linux.SOCK_NONBLOCK != 0 {
		fl = linux.O_NONBLOCK
	}
	s := e.fam.newEndpoint(ctx, e.stype, fl)
	sh, err := s.wrapHost(nfd)
	if err != nil {
		s.fd.DecRef(ctx)
		return nil, nil, err
	}
	e.fam.mu.Lock()
	s.addr = e.addr
	s.state = stateConnected
	s.host.Store(sh)
	e.fam.mu.Unlock()
	// The host peer is (usually) unnamed; its host name is never shown.
	return s.fd, nameOrFamily(nil), nil
}

// sendHost is SendMsg on a host-backed socket.
func (e *endpoint) sendHost(ctx vfs.Context, h *hostinet.Endpoint, src, to []byte, c *socket.ControlMessages, flags int) (int, error) {
	if len(c.Rights) > 0 {
		// Sandbox files are never passed to the host.
		return 0, linux.EPERM
	}
	e.fam.mu.Lock()
	state, peer := e.state, e.hostPeer
	e.fam.mu.Unlock()
	if to != nil {
		switch {
		case e.stype == linux.SOCK_STREAM && state == stateConnected:
			return 0, linux.EISCONN
		case e.stype == linux.SOCK_STREAM:
			return 0, linux.EOPNOTSUPP
		case e.stype == linux.SOCK_DGRAM && string(to) != string(peer):
			return 0, linux.EOPNOTSUPP
		}
		// Seqpacket ignores the address, as Linux does.
	}
	if state != stateConnected {
		return 0, linux.ENOTCONN
	}
	return h.SendMsg(ctx, src, nil, nil, flags)
}

// recvHost is RecvMsg on a host-backed socket.
func (e *endpoint) recvHost(ctx vfs.Context, h *hostinet.Endpoint, dst []byte, flags int, res *socket.RecvResult) error {
	e.fam.mu.Lock()
	listening := e.state == stateListening
	peer := e.hostPeer
	e.fam.mu.Unlock()
	if listening {
		return linux.EINVAL
	}
	err := h.RecvMsg(ctx, dst, flags, res)
	// The host's name of the sender is not the sandbox's business.
	res.From = nil
	if e.stype == linux.SOCK_DGRAM && err == nil {
		res.From = peer
	}
	return err
}

// hostSockOpt answers the options a host-backed socket takes from the
// host; ok is false for the others.
func (e *endpoint) hostSockOpt(h *hostinet.Endpoint, name int) ([]byte, bool, error) {
	switch name {
	case linux.SO_PEERCRED:
		b, err := h.HostGetsockopt(linux.SOL_SOCKET, linux.SO_PEERCRED, 12)
		if err != nil || len(b) < 12 {
			return nil, true, linux.ENOTCONN
		}
		b[0], b[1], b[2], b[3] = 0, 0, 0, 0
		return b, true, nil
	case linux.SO_ERROR:
		b, err := h.HostGetsockopt(linux.SOL_SOCKET, linux.SO_ERROR, 4)
		return b, true, err
	}
	return nil, false, nil
}
