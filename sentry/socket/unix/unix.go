// Package unix implements AF_UNIX sockets in the sentry: SOCK_STREAM,
// SOCK_DGRAM and SOCK_SEQPACKET, socketpair, names on the filesystem (a
// S_IFSOCK node made with mknod, found again on connect through the node's
// identity), abstract names and autobind, listen/accept, shutdown,
// SCM_RIGHTS and SCM_CREDENTIALS, and readiness for poll/epoll. With
// --host-uds, sockets connected to or bound on host sockets of gofer-served
// trees hand their data path to a hostinet.Endpoint (host.go).
//
// Lock order: Family.mu (one lock for all unix socket state of a stack, so that operations
// touching two endpoints need no ordering), then an endpoint's
// vfs.WaitQueue. File references dropped by a release (in-flight
// SCM_RIGHTS files, unaccepted connections) are dropped after mu is
// released, since dropping them may release another unix socket. A host
// half (hostinet.Endpoint) is made and released without fam.mu held; its
// own locks (hostinet's Net.mu and notifier) are leaves.
package unix

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/hostinet"
)

// abstractKey is an abstract name of one socket type.
type abstractKey struct {
	stype int
	name  string
}

// Limits.
const (
	// maxPath is sizeof(sun_path).
	maxPath = 108
	// defaultDgramQlen is net.unix.max_dgram_qlen in a new network
	// namespace, as a container has it (unix_net_init; distributions
	// that raise it do so only in the host's).
	defaultDgramQlen = 10
	// maxBacklog is net.core.somaxconn.
	maxBacklog = 4096
	// scmMaxFD is SCM_MAX_FD, the most files one SCM_RIGHTS may carry.
	scmMaxFD = 253
	// dgramOverhead is what a datagram costs beyond its bytes when
	// checked against SO_SNDBUF (EMSGSIZE): Linux's sk_sndbuf - 32.
	dgramOverhead = 32
)

// Family is the AF_UNIX family of one network stack: its provider and
// the state its sockets share. Install makes one per socket.Stack.
type Family struct {
	// mu protects every endpoint's mutable state and the tables below.
	mu sync.Mutex
	// abstract maps abstract names (without the leading NUL) to their
	// endpoint; protected by mu. As on Linux, a name is a socket type's:
	// a stream and a datagram socket may each have it.
	abstract map[abstractKey]*endpoint
	// paths maps the filesystem node a socket is bound to to its
	// endpoint; protected by mu.
	paths map[vfs.Inode]*endpoint
	// e.fam.autobindNext is the next autobind name to try; protected by mu.
	autobindNext uint32
	// all holds every open endpoint, for /proc/net/unix; protected by mu.
	all map[*endpoint]struct{}
	// inflight counts, per real uid, the files sent with SCM_RIGHTS and
	// not yet received or dropped (ETOOMANYREFS past RLIMIT_NOFILE);
	// protected by mu.
	inflight map[uint32]int
	// sent holds the sockets of the family that a queued message refers
	// to (endpoint.inflight > 0), and collecting is set while the
	// collector releases what it dropped (gc.go); protected by mu.
	sent       map[*endpoint]struct{}
	collecting bool

	// host, if set, makes the host halves of host-backed sockets;
	// hostOpen and hostCreate are the --host-uds policy (host.go). Set
	// once by EnableHost before the first socket, then read-only.
	host                 *hostinet.Net
	hostOpen, hostCreate bool

	// stack is the network stack the family belongs to (its sysctls).
	stack *socket.Stack
}

// Install registers a new AF_UNIX family with s.
func Install(s *socket.Stack) *Family {
	f := &Family{abstract: map[abstractKey]*endpoint{}, paths: map[vfs.Inode]*endpoint{}, all: map[*endpoint]struct{}{}, inflight: map[uint32]int{}, sent: map[*endpoint]struct{}{}, stack: s}
	s.Register(linux.AF_UNIX, f)
	return f
}

func checkType(stype, protocol int) (int, error) {
	switch stype {
	case linux.SOCK_STREAM, linux.SOCK_SEQPACKET, linux.SOCK_DGRAM:
	case linux.SOCK_RAW:
		// As Linux's unix_create: SOCK_RAW means SOCK_DGRAM.
		stype = linux.SOCK_DGRAM
	default:
		return 0, linux.ESOCKTNOSUPPORT
	}
	if protocol != 0 && protocol != linux.AF_UNIX {
		return 0, linux.EPROTONOSUPPORT
	}
	return stype, nil
}

// Socket implements socket.Provider.
func (fam *Family) Socket(ctx vfs.Context, stype, protocol int, flags uint32) (*vfs.FileDescription, error) {
	stype, err := checkType(stype, protocol)
	if err != nil {
		return nil, err
	}
	return fam.newEndpoint(ctx, stype, flags).fd, nil
}

// Pair implements socket.Provider: two connected endpoints.
func (fam *Family) Pair(ctx vfs.Context, stype, protocol int, flags uint32) (*vfs.FileDescription, *vfs.FileDescription, error) {
	stype, err := checkType(stype, protocol)
	if err != nil {
		return nil, nil, err
	}
	a, b := fam.newEndpoint(ctx, stype, flags), fam.newEndpoint(ctx, stype, flags)
	c := socket.CredsOf(ctx)
	fam.mu.Lock()
	a.peer, b.peer = b, a
	a.state, b.state = stateConnected, stateConnected
	a.peerCreds, b.peerCreds = c, c
	a.hasPeerCreds, b.hasPeerCreds = true, true
	fam.mu.Unlock()
	return a.fd, b.fd, nil
}

// Endpoint states.
const (
	stateUnconnected = iota
	stateListening
	stateConnected
)

// endpoint is one unix socket.
type endpoint struct {
	vfs.FileDescriptionDefaultImpl
	vfs.WaitQueue
	fd    *vfs.FileDescription
	fam   *Family
	stype int
	ino   uint64
	// uid is the creator's effective uid (for /proc/net/unix's owner).
	uid uint32

	// writers is where senders blocked on this endpoint's full receive
	// queue wait (datagram senders have no connection to wait on).
	writers vfs.WaitQueue
	// maxQlen is how many datagrams e's receive queue holds for senders
	// it is not connected to, and one more (Linux's sk_max_ack_backlog,
	// net.unix.max_dgram_qlen when e was made). Immutable.
	maxQlen int

	// The fields below are protected by fam.mu.
	state int
	// peer is the connected peer (stream, seqpacket) or the default
	// destination (dgram).
	peer *endpoint
	rq   socket.Queue[*endpoint]
	// oob marks the OOB bytes in a stream's rq (oob.go); nil until the
	// peer first sends one.
	oob *oobMarks
	// embryo is set while e waits in its listener's accept queue.
	embryo bool
	// inflight is how many queued messages hold a reference to e's file
	// (gc.go).
	inflight int
	// rcvShut and sndShut are the shutdown state: no more data will
	// arrive / may be sent.
	rcvShut, sndShut bool
	// addr is the bound address (sockaddr_un bytes), nil if unbound.
	addr []byte
	// bound is the node a path-bound socket holds (released on close).
	bound    vfs.VirtualDentry
	boundKey vfs.Inode
	backlog  int
	acceptQ  []*endpoint
	passcred bool
	// peerCreds is SO_PEERCRED; listenCreds are the creds at listen(2),
	// which connecting clients see as their peer's.
	peerCreds, listenCreds socket.Creds
	hasPeerCreds           bool
	soErr                  linux.Errno
	sndbuf, rcvbuf         int
	// wmem is what the datagrams, records and stream pieces e sent and
	// nobody has read yet cost, as Linux's sk_wmem_alloc counts them
	// (truesize): e may send while it is below sndbuf, and polls writable
	// while it is at most a quarter of it. The receiver's buffer does not
	// count.
	wmem int
	// skbs are the pieces of the stream queued on e, in order, as its
	// peer's sends made them (Linux's skbs of unix_stream_sendmsg); the
	// first has skbRead bytes read. Each costs its sender until it is
	// read whole.
	skbs               []streamSKB
	skbRead            int
	rcvTimeo, sndTimeo time.Duration
	// opts are the SOL_SOCKET options that are only stored
	// (SO_REUSEADDR, SO_KEEPALIVE, ...) or only read where they matter
	// (SO_OOBINLINE).
	opts     map[int]int32
	linger   [8]byte
	released bool

	// host is the host half of a socket connected to or bound on the
	// host (host.go); once set it stays. hostPeer is the address it
	// connected to, protected by fam.mu.
	host     atomic.Pointer[hostinet.Endpoint]
	hostPeer []byte
}

func (fam *Family) newEndpoint(ctx vfs.Context, stype int, flags uint32) *endpoint {
	fam.mu.Lock()
	defer fam.mu.Unlock()
	return fam.newEndpointLocked(ctx, stype, flags)
}

// newEndpointLocked makes an endpoint.
//
// Preconditions: fam.mu is locked.
func (fam *Family) newEndpointLocked(ctx vfs.Context, stype int, flags uint32) *endpoint {
	e := &endpoint{fam: fam, stype: stype, sndbuf: socket.DefaultBufSize, rcvbuf: socket.DefaultBufSize, maxQlen: fam.maxDgramQlen()}
	e.uid = socket.CredsOf(ctx).UID
	if t, ok := ctx.(*kernel.Task); ok {
		e.ino = t.Kernel().VFS.NextAnonIno()
	}
	e.fd = vfs.NewFileDescription(e, vfs.VirtualDentry{}, linux.O_RDWR|flags&linux.O_NONBLOCK, vfs.FileDescriptionOptions{})
	fam.all[e] = struct{}{}
	return e
}

// Family implements socket.Socket.
func (e *endpoint) Family() int { return linux.AF_UNIX }

// Type implements socket.Socket.
func (e *endpoint) Type() int { return e.stype }

// Protocol implements socket.Socket.
func (e *endpoint) Protocol() int { return 0 }

// takeErrLocked returns the pending socket error (SO_ERROR) and clears
// it, as Linux's sock_error: an error is reported once, by whichever call
// meets it first. It returns 0 if none is pending. e.fam.mu must be held.
func (e *endpoint) takeErrLocked() linux.Errno {
	err := e.soErr
	e.soErr = 0
	return err
}

func (e *endpoint) nonblocking(flags int) bool {
	return flags&linux.MSG_DONTWAIT != 0 || e.fd.StatusFlags()&linux.O_NONBLOCK != 0
}

// Stat implements vfs.FileDescriptionImpl.
func (e *endpoint) Stat(vfs.Context) (vfs.Stat, error) { return socket.Stat(e.ino), nil }

// Release implements vfs.FileDescriptionImpl: unbinds the name, shuts the
// connection down for the peer (ECONNRESET if data was left unread) and
// drops queued files and unaccepted connections.
func (e *endpoint) Release(ctx vfs.Context) {
	var drop []*vfs.FileDescription
	e.fam.mu.Lock()
	delete(e.fam.all, e)
	e.released = true
	e.unbindLocked()
	// The peer learns of lost data (ECONNRESET) if e was never
	// accepted, or if a message is queued, not counting a first one
	// with nothing left to read (as Linux, which passes over a
	// consumed skb at the head: an empty record, files or not).
	unread := e.embryo || e.rq.Count() > 1 ||
		e.rq.Count() == 1 && len(e.rq.Front().Data) > e.rq.Front().Off
	if o := e.oob; o != nil && !e.embryo {
		// Likewise a taken OOB byte at the head.
		unread = e.rq.Bytes > o.run(0)
	}
	drop = e.fam.drainLocked(e, drop)
	for _, s := range e.acceptQ {
		drop = append(drop, s.fd)
	}
	e.acceptQ = nil
	if p := e.peer; p != nil && e.stype != linux.SOCK_DGRAM {
		p.rcvShut, p.sndShut = true, true
		if unread {
			p.soErr = linux.ECONNRESET
		}
		p.Notify(vfs.ReadableEvents | vfs.WritableEvents | vfs.EventHUp | vfs.EventRdHUp | vfs.EventErr)
		p.writers.Notify(vfs.WritableEvents)
	}
	e.writers.Notify(vfs.WritableEvents)
	bound := e.bound
	e.bound = vfs.VirtualDentry{}
	e.fam.mu.Unlock()
	if h := e.hostOf(); h != nil {
		h.Release(ctx)
	}
	bound.DecRef()
	releaseAll(ctx, drop)
	e.fam.collect(ctx)
}

// unbindLocked removes e's name from the name tables.
func (e *endpoint) unbindLocked() {
	if e.boundKey != nil && e.fam.paths[e.boundKey] == e {
		delete(e.fam.paths, e.boundKey)
	}
	if len(e.addr) > 2 && e.addr[2] == 0 {
		if k := (abstractKey{e.stype, string(e.addr[3:])}); e.fam.abstract[k] == e {
			delete(e.fam.abstract, k)
		}
	}
}

// Readiness implements vfs.Waitable, as Linux's unix_poll and
// unix_dgram_poll.
func (e *endpoint) Readiness(mask uint32) uint32 {
	if h := e.hostOf(); h != nil {
		return h.Readiness(mask)
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	var r uint32
	if e.soErr != 0 {
		r |= vfs.EventErr
	}
	if e.rcvShut && e.sndShut {
		r |= vfs.EventHUp
	}
	if e.rcvShut {
		r |= vfs.EventRdHUp | vfs.ReadableEvents
	}
	if !e.rq.Empty() {
		r |= vfs.ReadableEvents
	}
	if e.oob != nil && e.oob.pending {
		r |= vfs.EventPri
	}
	if e.state == stateListening {
		if len(e.acceptQ) > 0 {
			r |= vfs.ReadableEvents
		}
		return r & mask
	}
	if e.stype != linux.SOCK_DGRAM && e.state != stateConnected {
		r |= vfs.EventHUp
	}
	if e.writableLocked() {
		r |= vfs.WritableEvents | vfs.EventWrBand
	}
	return r & mask
}

// writableLocked reports whether e polls writable (Linux's unix_poll and
// unix_dgram_poll): while what it has in flight is at most a quarter of
// its send buffer (unix_writable) and, for a datagram socket, its peer,
// if it has one, takes its datagrams.
func (e *endpoint) writableLocked() bool {
	if e.wmem*4 > e.sndbuf {
		return false
	}
	p := e.peer
	return e.stype != linux.SOCK_DGRAM || p == nil || p.released || !p.recvqFullLocked(e)
}

// recvqFullLocked reports whether e's receive queue is full for a
// datagram from s (Linux's unix_recvq_full, which unix_dgram_sendmsg
// applies unless e is s or connected to it): past maxQlen datagrams.
func (e *endpoint) recvqFullLocked(s *endpoint) bool {
	return e != s && e.peer != s && e.rq.Count() > e.maxQlen
}

// maxDgramQlen is net.unix.max_dgram_qlen of fam's network namespace.
func (fam *Family) maxDgramQlen() int {
	if fam.stack == nil || fam.stack.Sysctl == nil {
		return defaultDgramQlen
	}
	return int(min(fam.stack.Sysctl("net/unix/max_dgram_qlen"), 1<<31-1))
}

// Linux's skb sizes, for truesize (checked against Linux 6.18's
// SIOCOUTQ, datagrams of 0 to 212992 bytes and stream sends of 1 to
// 212992).
const (
	pageSize = 4096
	// skbShinfo is SKB_DATA_ALIGN(sizeof(struct skb_shared_info)),
	// skbStruct the sk_buff's own share of a truesize.
	skbShinfo, skbStruct = 320, 256
	// dgramMaxHead is SKB_MAX_ALLOC: a datagram's bytes past it go in
	// page fragments, at most maxSKBFrags pages of them.
	dgramMaxHead, maxSKBFrags = 16064, 17
	// streamMaxHead is SKB_MAX_HEAD(0), and maxStreamSKB the most bytes
	// one stream skb holds (with UNIX_SKB_FRAGS_SZ, 32 KiB, of pages).
	streamMaxHead = pageSize - skbShinfo
	maxStreamSKB  = streamMaxHead + 32<<10
)

// truesize is an skb's skb->truesize: a linear head of head bytes in the
// kmalloc bucket (a power of two, at least 512 bytes) that holds it with
// the skb_shared_info, the sk_buff, and the pages of frag bytes.
func truesize(head, frag int) int {
	need := (head+63)&^63 + skbShinfo
	bucket := 512
	for bucket < need {
		bucket *= 2
	}
	return bucket + skbStruct + (frag+pageSize-1)&^(pageSize-1)
}

// msgTruesize is what a datagram or record of n bytes costs its sender
// (unix_dgram_sendmsg's skb): past dgramMaxHead, up to maxSKBFrags
// pages go in fragments.
func msgTruesize(n int) int {
	frag := 0
	if n > dgramMaxHead {
		frag = (min(n-dgramMaxHead, maxSKBFrags*pageSize) + pageSize - 1) &^ (pageSize - 1)
	}
	return truesize(n-frag, frag)
}

// streamTruesize is what a stream skb of n bytes costs its sender
// (unix_stream_sendmsg's): what does not fit streamMaxHead goes in
// pages, and if that takes a page anyway, all of it does.
func streamTruesize(n int) int {
	frag := min(n, (max(0, n-streamMaxHead)+pageSize-1)&^(pageSize-1))
	return truesize(n-frag, frag)
}

// streamSKB is one skb of a stream, as streamTruesize charges it: its
// length and the sender that pays for it.
type streamSKB struct {
	n    int
	from *endpoint
}

// consumeSKBsLocked records that n more bytes of e's stream were read:
// the pieces read whole stop costing their senders.
func (e *endpoint) consumeSKBsLocked(n int) {
	for n > 0 && len(e.skbs) > 0 {
		k := min(n, e.skbs[0].n-e.skbRead)
		n -= k
		e.skbRead += k
		if e.skbRead < e.skbs[0].n {
			return
		}
		b := e.skbs[0]
		e.skbs[0] = streamSKB{}
		e.skbs = e.skbs[1:]
		e.skbRead = 0
		b.from.paidLocked(streamTruesize(b.n))
	}
	if len(e.skbs) == 0 {
		e.skbs = e.skbs[:0:0]
	}
}

// paidLocked takes back cost from what e has in flight (Linux's
// sock_wfree), and wakes e's waiters while it has room. Linux's
// unix_write_space wakes them only once e polls writable again, at a
// quarter of its send buffer; a sender blocked in the sandbox goes on
// sooner, as soon as it may send, so that it refills the queue while its
// reader still reads (bench/micro/unix_throughput, 64 KiB sends: 55–61
// µs each with Linux's rule, 49–52 without, as before this accounting).
// Pollers still see Linux's rule (writableLocked).
func (e *endpoint) paidLocked(cost int) {
	e.wmem -= cost
	if e.wmem < e.sndbuf {
		e.Notify(vfs.WritableEvents)
	}
}

// sentLocked charges m, just queued, to its sender (datagrams and
// records).
func sentLocked(m *socket.Message[*endpoint]) {
	if s := m.From; s != nil && s.stype != linux.SOCK_STREAM {
		s.wmem += msgTruesize(len(m.Data))
	}
}

// unsentLocked takes back m's charge from its sender once m is read or
// dropped (datagrams and records).
func unsentLocked(m *socket.Message[*endpoint]) {
	if s := m.From; s != nil && s.stype != linux.SOCK_STREAM {
		s.paidLocked(msgTruesize(len(m.Data)))
	}
}

// waitLocked is socket.WaitLocked on the family's mu.
func (fam *Family) waitLocked(ctx vfs.Context, q *vfs.WaitQueue, mask uint32, d time.Duration) error {
	return socket.WaitLocked(ctx, q, mask, &fam.mu, d)
}

// parseAddr validates a sockaddr_un: (path, abstract name, autobind).
func parseAddr(addr []byte) (name string, isAbstract, empty bool, err error) {
	if len(addr) < 2 || len(addr) > 2+maxPath {
		return "", false, false, linux.EINVAL
	}
	if int(addr[0])|int(addr[1])<<8 != linux.AF_UNIX {
		return "", false, false, linux.EINVAL
	}
	p := addr[2:]
	if len(p) == 0 {
		return "", false, true, nil
	}
	if p[0] == 0 {
		return string(p[1:]), true, false, nil
	}
	for i, c := range p {
		if c == 0 {
			p = p[:i]
			break
		}
	}
	return string(p), false, false, nil
}

func abstractAddr(name string) []byte {
	a := make([]byte, 3+len(name))
	a[0] = linux.AF_UNIX
	copy(a[3:], name)
	return a
}

// Bind implements socket.Socket.
func (e *endpoint) Bind(ctx vfs.Context, addr []byte) error {
	name, isAbs, empty, err := parseAddr(addr)
	if err != nil {
		return err
	}
	e.fam.mu.Lock()
	if empty && e.addr != nil {
		// As Linux's unix_autobind: already bound is success.
		e.fam.mu.Unlock()
		return nil
	}
	// As Linux's unix_bind_bsd, a bound socket binding a path makes
	// the node first (EADDRINUSE if the name exists) and fails with
	// EINVAL only then, removing it.
	bound := e.addr != nil
	if bound && (empty || isAbs) || e.released || e.hostOf() != nil {
		e.fam.mu.Unlock()
		return linux.EINVAL
	}
	if empty {
		err := e.autobindLocked()
		e.fam.mu.Unlock()
		return err
	}
	if isAbs {
		defer e.fam.mu.Unlock()
		k := abstractKey{e.stype, name}
		if e.fam.abstract[k] != nil {
			return linux.EADDRINUSE
		}
		e.fam.abstract[k] = e
		e.addr = abstractAddr(name)
		return nil
	}
	e.fam.mu.Unlock()
	if !bound {
		if done, err := e.bindHost(ctx, name); done {
			return err
		}
	}
	t, ok := ctx.(*kernel.Task)
	if !ok {
		return linux.EINVAL
	}
	fsc := t.FSContext()
	root, cwd := fsc.RootAndCwd()
	defer root.DecRef()
	defer cwd.DecRef()
	pop := vfs.PathOperation{Root: root, Start: cwd, Path: name}
	mode := linux.S_IFSOCK | 0o777&^fsc.Umask()
	if err := t.Kernel().VFS.MknodAt(ctx, &pop, mode, 0); err != nil {
		if err == linux.EEXIST {
			return linux.EADDRINUSE
		}
		return err
	}
	vd, err := t.Kernel().VFS.GetDentryAt(ctx, &pop)
	if err != nil {
		return err
	}
	a := make([]byte, 2+len(name)+1)
	a[0] = linux.AF_UNIX
	copy(a[2:], name)
	e.fam.mu.Lock()
	if e.addr != nil || e.released {
		e.fam.mu.Unlock()
		vd.DecRef()
		t.Kernel().VFS.UnlinkAt(ctx, &pop)
		return linux.EINVAL
	}
	e.addr, e.bound, e.boundKey = a, vd, vd.Dentry().Inode()
	e.fam.paths[e.boundKey] = e
	e.fam.mu.Unlock()
	return nil
}

// sendGateLocked makes the checks of a datagram or seqpacket send of n
// bytes that Linux makes before it looks at the receiver, or at whether
// there is one: for seqpacket (unix_seqpacket_sendmsg) a pending error,
// then ENOTCONN; then (unix_dgram_sendmsg, whose address the caller
// checked) an autobind if e passes credentials, EMSGSIZE, and
// sock_alloc_send_pskb's: a pending error, EPIPE if e is shut for
// sending, and room in e's send buffer, which it waits for unless the
// send is non-blocking (EAGAIN).
func (e *endpoint) sendGateLocked(ctx vfs.Context, n, flags int) error {
	if e.stype == linux.SOCK_SEQPACKET {
		if err := e.takeErrLocked(); err != 0 {
			return err
		}
		if e.state != stateConnected {
			return linux.ENOTCONN
		}
	}
	if flags&linux.MSG_OOB != 0 {
		return linux.EOPNOTSUPP
	}
	if err := e.autobindForCredsLocked(); err != nil {
		return err
	}
	if n > e.sndbuf-dgramOverhead {
		return linux.EMSGSIZE
	}
	for {
		if err := e.takeErrLocked(); err != 0 {
			return err
		}
		if e.sndShut {
			return linux.EPIPE
		}
		if e.wmem < e.sndbuf {
			return nil
		}
		if e.nonblocking(flags) {
			return linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &e.WaitQueue, vfs.WritableEvents, e.sndTimeo); err != nil {
			return err
		}
	}
}

// settleCredsLocked gives a message bound for to the credentials it
// carries, as Linux's maybe_add_creds: those the sender passed
// (SCM_CREDENTIALS), else its own if either end passes credentials or to
// is not accepted yet, else none.
func (e *endpoint) settleCredsLocked(ctx vfs.Context, c *socket.ControlMessages, to *endpoint) {
	switch {
	case c.HasCreds:
	case e.passcred || to.passcred || to.embryo:
		c.Creds = socket.CredsOf(ctx)
	default:
		c.Creds = socket.NoCreds()
	}
}

// autobindForCredsLocked autobinds an unbound e that passes credentials
// (SO_PASSCRED), as Linux's connect and datagram send do, so that its
// peers can tell where the credentials came from.
func (e *endpoint) autobindForCredsLocked() error {
	if !e.passcred || e.addr != nil || e.hostOf() != nil {
		return nil
	}
	return e.autobindLocked()
}

// autobindLocked binds e to a fresh abstract name of five hex digits, as
// Linux's unix_autobind.
func (e *endpoint) autobindLocked() error {
	for i := 0; i < 1<<20; i++ {
		n := fmt.Sprintf("%05x", e.fam.autobindNext&0xfffff)
		e.fam.autobindNext++
		if k := (abstractKey{e.stype, n}); e.fam.abstract[k] == nil {
			e.fam.abstract[k] = e
			e.addr = abstractAddr(n)
			return nil
		}
	}
	return linux.ENOSPC
}

// lookup finds the endpoint of type stype bound to addr: ECONNREFUSED if
// an abstract name has none of that type, EPROTOTYPE if a path's socket
// is of another, as Linux's unix_find_other.
func (fam *Family) lookup(ctx vfs.Context, addr []byte, stype int) (*endpoint, error) {
	name, isAbs, empty, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	if empty {
		return nil, linux.EINVAL
	}
	if isAbs {
		fam.mu.Lock()
		p := fam.abstract[abstractKey{stype, name}]
		fam.mu.Unlock()
		if p == nil {
			return nil, linux.ECONNREFUSED
		}
		return p, nil
	}
	t, ok := ctx.(*kernel.Task)
	if !ok {
		return nil, linux.ECONNREFUSED
	}
	root, cwd := t.FSContext().RootAndCwd()
	defer root.DecRef()
	defer cwd.DecRef()
	pop := vfs.PathOperation{Root: root, Start: cwd, Path: name, Follow: true}
	vd, err := t.Kernel().VFS.GetDentryAt(ctx, &pop)
	if err != nil {
		return nil, err
	}
	ino := vd.Dentry().Inode()
	vd.DecRef()
	// Linux: connecting needs write permission on the socket node.
	if err := t.Kernel().VFS.AccessAt(ctx, &pop, 2, true); err != nil {
		return nil, err
	}
	fam.mu.Lock()
	p := fam.paths[ino]
	fam.mu.Unlock()
	if p == nil {
		return nil, linux.ECONNREFUSED
	}
	if p.stype != stype {
		return nil, linux.EPROTOTYPE
	}
	return p, nil
}

// Listen implements socket.Socket.
func (e *endpoint) Listen(ctx vfs.Context, backlog int) error {
	if e.stype == linux.SOCK_DGRAM {
		return linux.EOPNOTSUPP
	}
	if backlog < 0 || backlog > maxBacklog {
		backlog = maxBacklog
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	if e.addr == nil || e.state == stateConnected {
		return linux.EINVAL
	}
	if h := e.hostOf(); h != nil {
		// A host-bound socket: the host's backlog is the one that
		// counts (listen again changes it, as on Linux).
		if err := h.Listen(ctx, backlog); err != nil {
			return err
		}
	}
	e.backlog = backlog
	// As Linux's init_peercred at every listen: connectors get these
	// credentials, and SO_PEERCRED of the listener reports them.
	e.listenCreds = socket.CredsOf(ctx)
	e.peerCreds, e.hasPeerCreds = e.listenCreds, true
	e.state = stateListening
	// Blocked connectors may now fit a larger backlog.
	e.writers.Notify(vfs.WritableEvents)
	return nil
}

// Accept implements socket.Socket.
func (e *endpoint) Accept(ctx vfs.Context, flags int) (*vfs.FileDescription, []byte, error) {
	if h := e.hostOf(); h != nil {
		return e.acceptHost(ctx, h, flags)
	}
	if e.stype == linux.SOCK_DGRAM {
		return nil, nil, linux.EOPNOTSUPP
	}
	e.fam.mu.Lock()
	for {
		if e.state != stateListening {
			e.fam.mu.Unlock()
			return nil, nil, linux.EINVAL
		}
		if len(e.acceptQ) > 0 {
			break
		}
		if e.nonblocking(0) {
			e.fam.mu.Unlock()
			return nil, nil, linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &e.WaitQueue, vfs.ReadableEvents, e.rcvTimeo); err != nil {
			e.fam.mu.Unlock()
			return nil, nil, err
		}
	}
	s := e.acceptQ[0]
	s.embryo = false
	copy(e.acceptQ, e.acceptQ[1:])
	e.acceptQ[len(e.acceptQ)-1] = nil
	e.acceptQ = e.acceptQ[:len(e.acceptQ)-1]
	var peerAddr []byte
	if s.peer != nil {
		peerAddr = s.peer.addr
	}
	e.writers.Notify(vfs.WritableEvents)
	e.fam.mu.Unlock()
	if flags&linux.SOCK_NONBLOCK != 0 {
		s.fd.SetStatusFlags(linux.O_NONBLOCK)
	}
	return s.fd, nameOrFamily(peerAddr), nil
}

// disconnectLocked ends e's datagram association with old, as Linux's
// unix_dgram_disconnected: what e has queued is dropped, and old, if
// still connected back to e, learns of the loss (ECONNRESET). The files
// of the dropped messages are appended to drop, for the caller to release
// once mu is unlocked.
func (e *endpoint) disconnectLocked(old *endpoint, drop []*vfs.FileDescription) []*vfs.FileDescription {
	if e.rq.Empty() {
		return drop
	}
	drop = e.fam.drainLocked(e, drop)
	e.writers.Notify(vfs.WritableEvents)
	if !old.released && old.peer == e {
		old.soErr = linux.ECONNRESET
		old.Notify(vfs.EventErr)
	}
	return drop
}

// releaseAll drops a reference to each of fs (files that were queued).
func releaseAll(ctx vfs.Context, fs []*vfs.FileDescription) {
	for _, f := range fs {
		f.DecRef(ctx)
	}
}

// dupRights returns new references to a message's files, for a MSG_PEEK
// that reports them without taking them (Linux's scm_fp_dup).
func dupRights(rs []*vfs.FileDescription) []*vfs.FileDescription {
	if rs == nil {
		return nil
	}
	d := make([]*vfs.FileDescription, len(rs))
	for i, f := range rs {
		f.IncRef()
		d[i] = f
	}
	return d
}

// nameOrFamily is the sockaddr reported for an address: just the family
// for an unbound socket.
func nameOrFamily(a []byte) []byte {
	if a == nil {
		return []byte{linux.AF_UNIX, 0}
	}
	return a
}

// Connect implements socket.Socket.
func (e *endpoint) Connect(ctx vfs.Context, addr []byte) error {
	if e.hostOf() != nil {
		// A host connection cannot be redone or undone.
		if e.stype == linux.SOCK_DGRAM {
			return linux.EOPNOTSUPP
		}
		e.fam.mu.Lock()
		listening := e.state == stateListening
		e.fam.mu.Unlock()
		if listening {
			return linux.EINVAL
		}
		return linux.EISCONN
	}
	if e.stype == linux.SOCK_DGRAM && len(addr) >= 2 && addr[0] == linux.AF_UNSPEC && addr[1] == 0 {
		e.fam.mu.Lock()
		var drop []*vfs.FileDescription
		if old := e.peer; old != nil {
			e.peer = nil
			drop = e.disconnectLocked(old, drop)
		}
		e.fam.mu.Unlock()
		releaseAll(ctx, drop)
		return nil
	}
	if _, _, empty, err := parseAddr(addr); err != nil {
		return err
	} else if empty {
		return linux.EINVAL
	}
	// As Linux's unix_stream_connect, the peer is looked up and checked
	// before this socket's own state (EISCONN, EINVAL for a listener).
	e.fam.mu.Lock()
	if err := e.autobindForCredsLocked(); err != nil {
		e.fam.mu.Unlock()
		return err
	}
	idle := e.state != stateListening && (e.state != stateConnected || e.stype == linux.SOCK_DGRAM)
	e.fam.mu.Unlock()
	if idle {
		if done, err := e.connectHost(ctx, addr); done {
			return err
		}
	}
	l, err := e.fam.lookup(ctx, addr, e.stype)
	if err != nil {
		return err
	}
	var drop []*vfs.FileDescription
	defer func() { releaseAll(ctx, drop) }()
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	if l.released || l.hostOf() != nil {
		// A host-bound listener is reached through the host only.
		return linux.ECONNREFUSED
	}
	if e.stype == linux.SOCK_DGRAM {
		// Linux's unix_may_send: not to a socket connected elsewhere
		// (even to one closed since).
		if l.peer != nil && l.peer != e {
			return linux.EPERM
		}
		// As Linux, e has its new peer when the old one is told
		// (which may be e itself).
		old := e.peer
		e.peer = l
		if old != nil && old != l {
			drop = e.disconnectLocked(old, drop)
		}
		return nil
	}
	for {
		if l.released || l.state != stateListening || l.rcvShut {
			return linux.ECONNREFUSED
		}
		// Linux admits one more than the backlog.
		if len(l.acceptQ) <= l.backlog {
			break
		}
		if e.nonblocking(0) {
			return linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &l.writers, vfs.WritableEvents, e.sndTimeo); err != nil {
			return err
		}
	}
	switch e.state {
	case stateConnected:
		return linux.EISCONN
	case stateListening:
		return linux.EINVAL
	}
	s := e.fam.newEndpointLocked(ctx, e.stype, 0)
	s.addr = l.addr
	s.passcred = l.passcred
	s.embryo = true
	s.peer, e.peer = e, s
	s.state, e.state = stateConnected, stateConnected
	s.peerCreds, s.hasPeerCreds = socket.CredsOf(ctx), true
	e.peerCreds, e.hasPeerCreds = l.listenCreds, true
	l.acceptQ = append(l.acceptQ, s)
	l.Notify(vfs.ReadableEvents)
	e.Notify(vfs.WritableEvents)
	return nil
}

// Shutdown implements socket.Socket.
func (e *endpoint) Shutdown(ctx vfs.Context, how int) error {
	if how < linux.SHUT_RD || how > linux.SHUT_RDWR {
		return linux.EINVAL
	}
	if h := e.hostOf(); h != nil {
		return h.Shutdown(ctx, how)
	}
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	// Linux's unix_shutdown does not require a connection.
	rd := how == linux.SHUT_RD || how == linux.SHUT_RDWR
	wr := how == linux.SHUT_WR || how == linux.SHUT_RDWR
	if rd {
		e.rcvShut = true
	}
	if wr {
		e.sndShut = true
	}
	e.Notify(vfs.ReadableEvents | vfs.WritableEvents | vfs.EventHUp | vfs.EventRdHUp)
	if p := e.peer; p != nil && e.stype != linux.SOCK_DGRAM {
		if rd {
			p.sndShut = true
		}
		if wr {
			p.rcvShut = true
		}
		// POLLHUP (and SIGIO's POLL_HUP) only once both ways are shut.
		ev := uint32(vfs.ReadableEvents | vfs.WritableEvents | vfs.EventRdHUp)
		if p.rcvShut && p.sndShut {
			ev |= vfs.EventHUp
		}
		p.Notify(ev)
	}
	return nil
}

// SockName implements socket.Socket.
func (e *endpoint) SockName() []byte {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	return nameOrFamily(e.addr)
}

// PeerName implements socket.Socket.
func (e *endpoint) PeerName() ([]byte, error) {
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	if e.hostOf() != nil && e.state == stateConnected {
		return nameOrFamily(e.hostPeer), nil
	}
	if e.peer == nil || e.stype != linux.SOCK_DGRAM && e.state != stateConnected {
		return nil, linux.ENOTCONN
	}
	return nameOrFamily(e.peer.addr), nil
}

// sigpiper is a context that can be sent SIGPIPE (kernel.Task).
type sigpiper interface{ SendSIGPIPE() }

func epipe(ctx vfs.Context, flags int, stream bool) error {
	if stream && flags&linux.MSG_NOSIGNAL == 0 {
		if s, ok := ctx.(sigpiper); ok {
			s.SendSIGPIPE()
		}
	}
	return linux.EPIPE
}

// PRead implements read(2): recv with no flags.
func (e *endpoint) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	var res socket.RecvResult
	err := e.RecvMsg(ctx, dst, 0, &res)
	res.Control.Release(ctx)
	return res.N, err
}

// PWrite implements write(2): send with no flags.
func (e *endpoint) PWrite(ctx vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	n, err := e.SendMsg(ctx, src, nil, nil, 0)
	return n, off, err
}

// SendMsg implements socket.Socket.
func (e *endpoint) SendMsg(ctx vfs.Context, src []byte, to []byte, ctl *socket.ControlMessages, flags int) (int, error) {
	var c socket.ControlMessages
	if ctl != nil {
		c = *ctl
		ctl.Rights = nil
	}
	if h := e.hostOf(); h != nil {
		n, err := e.sendHost(ctx, h, src, to, &c, flags)
		c.Release(ctx)
		return n, err
	}
	if len(c.Rights) > 0 {
		if err := e.fam.checkInflight(ctx, &c); err != nil {
			c.Release(ctx)
			return 0, err
		}
	}
	n, err := e.send(ctx, src, to, &c, flags)
	c.Release(ctx)
	return n, err
}

func (e *endpoint) send(ctx vfs.Context, src []byte, to []byte, c *socket.ControlMessages, flags int) (int, error) {
	var target *endpoint
	// Linux's unix_dgram_sendmsg refuses MSG_OOB before it looks at the
	// address; unix_seqpacket_sendmsg checks the connection first
	// (sendGateLocked), and unix_stream_sendmsg takes it with a byte to
	// send.
	if flags&linux.MSG_OOB != 0 && (e.stype == linux.SOCK_DGRAM || e.stype == linux.SOCK_STREAM && len(src) == 0) {
		return 0, linux.EOPNOTSUPP
	}
	if e.stype != linux.SOCK_STREAM {
		if e.stype == linux.SOCK_SEQPACKET {
			to = nil // Linux ignores a seqpacket send's address
		} else if to != nil {
			if _, _, empty, err := parseAddr(to); err != nil || empty {
				return 0, linux.EINVAL
			}
		}
		e.fam.mu.Lock()
		err := e.sendGateLocked(ctx, len(src), flags)
		e.fam.mu.Unlock()
		if err == linux.EPIPE {
			return 0, epipe(ctx, flags, false)
		}
		if err != nil {
			return 0, err
		}
	}
	if e.stype == linux.SOCK_DGRAM && to != nil {
		t, err := e.fam.lookup(ctx, to, e.stype)
		if err != nil {
			return 0, err
		}
		if t.hostOf() != nil {
			return 0, linux.ECONNREFUSED
		}
		target = t
	}
	var drop []*vfs.FileDescription
	defer func() { releaseAll(ctx, drop) }()
	e.fam.mu.Lock()
	defer e.fam.mu.Unlock()
	switch e.stype {
	case linux.SOCK_STREAM:
		if to != nil {
			if e.state == stateConnected {
				return 0, linux.EISCONN
			}
			return 0, linux.EOPNOTSUPP
		}
		return e.sendStreamLocked(ctx, src, c, flags)
	case linux.SOCK_SEQPACKET:
		if e.state != stateConnected {
			return 0, linux.ENOTCONN
		}
		target = e.peer
	default:
		if target == nil {
			target = e.peer
			if target == nil {
				return 0, linux.ENOTCONN
			}
			if target.released {
				e.peer = nil
				drop = e.disconnectLocked(target, drop)
				return 0, linux.ECONNREFUSED
			}
		}
	}
	for {
		// Again after a wait for room: a pending error first.
		if err := e.takeErrLocked(); err != 0 {
			return 0, err
		}
		if e.sndShut {
			return 0, epipe(ctx, flags, false)
		}
		if target.released {
			if e.stype == linux.SOCK_SEQPACKET {
				return 0, epipe(ctx, flags, false)
			}
			return 0, linux.ECONNREFUSED
		}
		if e.stype == linux.SOCK_DGRAM && target.peer != nil && target.peer != e && !target.released {
			return 0, linux.EPERM
		}
		if target.rcvShut {
			return 0, epipe(ctx, flags, false)
		}
		if target.stype != e.stype {
			return 0, linux.EPROTOTYPE
		}
		if !target.recvqFullLocked(e) {
			break
		}
		if e.nonblocking(flags) {
			return 0, linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &target.writers, vfs.WritableEvents, e.sndTimeo); err != nil {
			return 0, err
		}
	}
	e.settleCredsLocked(ctx, c, target)
	m := socket.Message[*endpoint]{Data: append(target.rq.Buf(len(src)), src...), Creds: c.Creds, Rights: c.Rights, RightsUID: c.RightsUID, From: e}
	e.fam.charge(c.RightsUID, c.Rights)
	c.Rights = nil
	sentLocked(&m)
	target.rq.Push(m)
	target.Notify(vfs.ReadableEvents)
	return len(src), nil
}

// sendStreamLocked writes src to the connected peer, blocking for room
// unless non-blocking (a partial count then). With MSG_OOB its last byte
// goes out of band, once the others are all sent.
func (e *endpoint) sendStreamLocked(ctx vfs.Context, src []byte, c *socket.ControlMessages, flags int) (int, error) {
	if flags&linux.MSG_OOB == 0 {
		return e.sendStreamDataLocked(ctx, src, c, flags)
	}
	n := len(src) - 1
	done, err := e.sendStreamDataLocked(ctx, src[:n], c, flags)
	if err != nil || done < n {
		return done, err
	}
	// The files go with the first skb, the OOB byte's if it is alone.
	if err := e.queueOOBLocked(ctx, src, c, flags); err != nil {
		if done > 0 {
			return done, nil
		}
		return 0, err
	}
	return done + 1, nil
}

// sendStreamDataLocked is sendStreamLocked without MSG_OOB.
func (e *endpoint) sendStreamDataLocked(ctx vfs.Context, src []byte, c *socket.ControlMessages, flags int) (int, error) {
	done := 0
	for {
		if e.state != stateConnected {
			return 0, linux.ENOTCONN
		}
		if e.sndShut {
			if done > 0 {
				return done, nil
			}
			return 0, epipe(ctx, flags, true)
		}
		if len(src) == 0 {
			return 0, nil
		}
		if e.wmem < e.sndbuf {
			// Linux's unix_stream_sendmsg makes skbs while the send
			// buffer has room: "two messages in the pipe", and no
			// more than a head and UNIX_SKB_FRAGS_SZ each. Their
			// bytes go in one append, and wake the reader once.
			p := e.peer
			e.settleCredsLocked(ctx, c, p)
			e.fam.charge(c.RightsUID, c.Rights)
			from := done
			for done < len(src) && e.wmem < e.sndbuf {
				n := min(len(src)-done, e.sndbuf/2-64, maxStreamSKB)
				p.skbs = append(p.skbs, streamSKB{n, e})
				e.wmem += streamTruesize(n)
				done += n
			}
			p.rq.AppendStream(src[from:done], c)
			p.Notify(vfs.ReadableEvents)
			if done == len(src) {
				return done, nil
			}
		}
		if e.nonblocking(flags) {
			if done > 0 {
				return done, nil
			}
			return 0, linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &e.WaitQueue, vfs.WritableEvents, e.sndTimeo); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
}

// RecvMsg implements socket.Socket.
func (e *endpoint) RecvMsg(ctx vfs.Context, dst []byte, flags int, res *socket.RecvResult) error {
	if h := e.hostOf(); h != nil {
		return e.recvHost(ctx, h, dst, flags, res)
	}
	e.fam.mu.Lock()
	if e.stype == linux.SOCK_STREAM {
		var drop []*vfs.FileDescription
		err := e.recvStreamLocked(ctx, dst, flags, res, &drop)
		e.fam.mu.Unlock()
		if drop != nil {
			releaseAll(ctx, drop)
			e.fam.collect(ctx)
		}
		return err
	}
	defer e.fam.mu.Unlock()
	if e.stype == linux.SOCK_SEQPACKET && e.state != stateConnected {
		return linux.ENOTCONN
	}
	if flags&linux.MSG_OOB != 0 {
		return linux.EOPNOTSUPP
	}
	for {
		// As Linux's __skb_try_recv_datagram: a pending error comes
		// before the queued messages; a shut queue reads as end of file
		// for seqpacket or a blocking read, and a non-blocking datagram
		// read gets EAGAIN.
		if err := e.takeErrLocked(); err != 0 {
			return err
		}
		if !e.rq.Empty() {
			break
		}
		nonblock := e.nonblocking(flags)
		if e.rcvShut && (e.stype == linux.SOCK_SEQPACKET || !nonblock) {
			return nil
		}
		if nonblock {
			return linux.EAGAIN
		}
		if err := e.fam.waitLocked(ctx, &e.WaitQueue, vfs.ReadableEvents, e.rcvTimeo); err != nil {
			return err
		}
	}
	m := e.rq.Front()
	res.N = copy(dst, m.Data)
	res.MsgLen = len(m.Data)
	if res.N < len(m.Data) {
		res.Flags |= linux.MSG_TRUNC
	}
	// Linux's unix_copy_addr: the sender's address when read.
	res.From = m.From.addr
	if e.passcred {
		res.Control.Creds, res.Control.HasCreds = m.Creds, true
	}
	if flags&linux.MSG_PEEK != 0 {
		res.Control.Rights = dupRights(m.Rights)
	} else {
		res.Control.Rights = m.Rights
		e.fam.uncharge(m.RightsUID, m.Rights)
		m.Rights = nil
		unsentLocked(m)
		e.rq.Pop()
		e.writers.Notify(vfs.WritableEvents)
		if p := e.peer; p != nil && e.stype == linux.SOCK_SEQPACKET {
			p.Notify(vfs.WritableEvents)
		}
	}
	return nil
}

// recvStreamLocked reads from a connected stream; the files of lost OOB
// bytes (skipLocked) are appended to drop, for the caller to release once
// mu is unlocked.
func (e *endpoint) recvStreamLocked(ctx vfs.Context, dst []byte, flags int, res *socket.RecvResult, drop *[]*vfs.FileDescription) error {
	if e.state != stateConnected {
		return linux.EINVAL
	}
	if flags&linux.MSG_OOB != 0 {
		return e.recvOOBLocked(dst, flags, res)
	}
	// As Linux's sock_rcvlowat, a null read waits for a byte too (EAGAIN
	// if non-blocking), and then takes the first message's descriptors.
	target := 1
	if flags&linux.MSG_WAITALL != 0 && flags&linux.MSG_PEEK == 0 {
		target = max(len(dst), 1)
	}
	done := 0
	peek := flags&linux.MSG_PEEK != 0
	for {
		ready := !e.rq.Empty()
		if ready && peek && e.oob != nil && e.oob.live() {
			// A peek that finds only OOB bytes to pass over
			// finds nothing, as an empty queue.
			n, found := e.peekOOBLocked(dst, res)
			if found {
				done = n
				break
			}
			ready = false
		}
		if !ready {
			if done >= target {
				break
			}
			// Linux's sock_error takes the error even when what
			// was read is returned instead.
			if err := e.takeErrLocked(); err != 0 {
				if done > 0 {
					break
				}
				return err
			}
			if e.rcvShut {
				break
			}
			if e.nonblocking(flags) {
				if done > 0 {
					break
				}
				return linux.EAGAIN
			}
			if err := e.fam.waitLocked(ctx, &e.WaitQueue, vfs.ReadableEvents, e.rcvTimeo); err != nil {
				if done > 0 {
					break
				}
				return err
			}
			continue
		}
		// As Linux's unix_stream_read_generic: the sender's address and
		// the credentials come from the first message read, messages
		// of other credentials are not joined to it, and a message's
		// files end the read.
		if peek {
			// A peek walks the whole queue, whatever room is
			// left, until a message with files (whose copies it
			// returns) or of other credentials.
			for i := 0; i < e.rq.Count(); i++ {
				m := e.rq.At(i)
				if i > 0 && e.passcred && m.Creds != res.Control.Creds {
					break
				}
				if i == 0 {
					if e.peer != nil {
						res.From = e.peer.addr
					}
					if e.passcred {
						res.Control.Creds, res.Control.HasCreds = m.Creds, true
					}
				}
				done += copy(dst[done:], m.Data[m.Off:])
				if m.Rights != nil {
					res.Control.Rights = dupRights(m.Rights)
					break
				}
			}
			break
		}
		m := e.rq.Front()
		d := m.Data[m.Off:]
		if o := e.oob; o != nil && o.live() {
			act, k := o.step(0, done, e.oobInlineLocked())
			if act == oobStop {
				break
			}
			if o.pending && o.mark == 0 {
				// A read that starts at the OOB byte takes the
				// mark away (Linux's manage_oob).
				o.pending = false
			}
			if act == oobSkip {
				*drop = e.skipLocked(k, *drop)
				continue
			}
			d = d[:min(k, len(d))]
		}
		if done > 0 && e.passcred && m.Creds != res.Control.Creds {
			break
		}
		if done == 0 && e.passcred {
			res.Control.Creds, res.Control.HasCreds = m.Creds, true
		}
		if done == 0 && e.peer != nil {
			res.From = e.peer.addr
		}
		n := copy(dst[done:], d)
		done += n
		hadRights := m.Rights != nil
		if hadRights {
			res.Control.Rights = m.Rights
			e.fam.uncharge(m.RightsUID, m.Rights)
			m.Rights = nil
		}
		e.rq.Consume(n)
		e.consumeSKBsLocked(n)
		if e.oob != nil {
			e.oob.consumed(n)
		}
		if hadRights || done == len(dst) {
			break
		}
	}
	if e.passcred && !res.Control.HasCreds {
		// Linux's scm_recv reports credentials even at end of file:
		// none (pid 0, ids 0).
		res.Control.HasCreds = true
	}
	res.N, res.MsgLen = done, done
	return nil
}

// Ioctl implements vfs.FileDescriptionImpl: SIOCINQ (FIONREAD),
// SIOCOUTQ and SIOCATMARK.
func (e *endpoint) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	var v int
	if h := e.hostOf(); h != nil && (cmd == linux.SIOCINQ || cmd == linux.SIOCOUTQ) {
		if cmd == linux.SIOCOUTQ {
			return 0, linux.ENOTTY
		}
		n, err := h.HostInq()
		if err != nil {
			return 0, err
		}
		if _, err := ctx.CopyOut(arg, socket.Int32(n)); err != nil {
			return 0, linux.EFAULT
		}
		return 0, nil
	}
	switch cmd {
	case linux.SIOCINQ:
		e.fam.mu.Lock()
		if e.state == stateListening {
			e.fam.mu.Unlock()
			return 0, linux.EINVAL
		}
		if e.stype == linux.SOCK_DGRAM {
			if !e.rq.Empty() {
				v = len(e.rq.Front().Data)
			}
		} else {
			v = e.rq.Bytes
			if e.oob != nil {
				// Taken OOB bytes are no longer queued data.
				v -= len(e.oob.taken)
			}
		}
		e.fam.mu.Unlock()
	case linux.SIOCATMARK:
		// Linux 6.18 answers it for streams only.
		if e.stype != linux.SOCK_STREAM {
			return 0, linux.EOPNOTSUPP
		}
		e.fam.mu.Lock()
		if e.atMarkLocked() {
			v = 1
		}
		e.fam.mu.Unlock()
	case linux.SIOCOUTQ:
		// Linux's unix_outq_len: sk_wmem_alloc, what is in flight.
		e.fam.mu.Lock()
		v = e.wmem
		e.fam.mu.Unlock()
	default:
		if socket.IsInterfaceIoctl(cmd) {
			return socket.InterfaceIoctl(ctx, cmd, arg)
		}
		return 0, linux.ENOTTY
	}
	if _, err := ctx.CopyOut(arg, socket.Int32(int32(v))); err != nil {
		return 0, linux.EFAULT
	}
	return 0, nil
}

// UnixSockets implements socket.UnixLister, in inode order.
func (fam *Family) UnixSockets() []socket.UnixInfo {
	fam.mu.Lock()
	defer fam.mu.Unlock()
	// Connections not yet accepted have no socket file: SS_CONNECTING.
	pending := map[*endpoint]bool{}
	for e := range fam.all {
		for _, s := range e.acceptQ {
			pending[s] = true
		}
	}
	out := make([]socket.UnixInfo, 0, len(fam.all))
	for e := range fam.all {
		info := socket.UnixInfo{Listening: e.state == stateListening, Type: e.stype, State: 1, Ino: e.ino, Addr: e.addr}
		if e.state == stateConnected || e.stype == linux.SOCK_DGRAM && e.peer != nil {
			info.State = 3
			if pending[e] {
				info.State = 2
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ino < out[j].Ino })
	return out
}

// checkInflight refuses files to send (ETOOMANYREFS) when the sender's
// user already has more in flight than its RLIMIT_NOFILE, unless it has
// CAP_SYS_RESOURCE or CAP_SYS_ADMIN, as Linux's too_many_unix_fds; it
// sets whom to charge.
func (fam *Family) checkInflight(ctx vfs.Context, c *socket.ControlMessages) error {
	cr := ctx.Credentials()
	if cr == nil {
		return nil
	}
	c.RightsUID = uint32(cr.RealKUID)
	t, ok := ctx.(*kernel.Task)
	if !ok {
		return nil
	}
	limit := t.ThreadGroup().Limits().Get(linux.RLIMIT_NOFILE).Cur
	fam.mu.Lock()
	n := fam.inflight[c.RightsUID]
	fam.mu.Unlock()
	if uint64(n) > limit && !cr.HasCapability(auth.CAP_SYS_RESOURCE) && !cr.HasCapability(auth.CAP_SYS_ADMIN) {
		return linux.ETOOMANYREFS
	}
	return nil
}

// charge and uncharge count the files rs, sent with SCM_RIGHTS by uid, as
// in flight or no longer: per user (ETOOMANYREFS), and for each socket
// of the family among them, for the collector (gc.go).
//
// Preconditions: fam.mu is locked.
func (fam *Family) charge(uid uint32, rs []*vfs.FileDescription) {
	if len(rs) > 0 {
		fam.inflight[uid] += len(rs)
		fam.countInflightLocked(rs, 1)
	}
}

func (fam *Family) uncharge(uid uint32, rs []*vfs.FileDescription) {
	if len(rs) > 0 {
		if fam.inflight[uid] -= len(rs); fam.inflight[uid] <= 0 {
			delete(fam.inflight, uid)
		}
		fam.countInflightLocked(rs, -1)
	}
}

// drainLocked empties e's receive queue, uncharging its messages' files
// and what they cost their senders, and appends the files to drop for the
// caller to release once mu is unlocked.
//
// Preconditions: fam.mu is locked.
func (fam *Family) drainLocked(e *endpoint, drop []*vfs.FileDescription) []*vfs.FileDescription {
	q := &e.rq
	for i := 0; i < q.Count(); i++ {
		m := q.At(i)
		fam.uncharge(m.RightsUID, m.Rights)
		unsentLocked(m)
	}
	e.consumeSKBsLocked(math.MaxInt)
	e.oob = nil
	return q.Drain(drop)
}
