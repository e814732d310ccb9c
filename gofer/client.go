package gofer

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Client is the sentry's end of a gofer connection. Its methods may be
// called concurrently: each request gets a tag, and replies are matched to
// their callers by tag. If the gofer dies every pending and later call
// fails with EIO.
//
// There is no reader goroutine: a caller waiting for its reply reads the
// socket itself while no other caller does (the leader), handing other
// callers their replies, and passes the role on to a waiting caller when
// its own reply has come. A lone caller thus sends, receives and goes on
// with no goroutine hand-off, which is most of a round trip's latency on
// a loaded host.
type Client struct {
	sock int

	// mu protects pending, nextTag, dead, reading, clunks and every
	// call's finished.
	mu      sync.Mutex
	pending map[uint32]*call
	nextTag uint32
	dead    bool
	// reading is set while a caller (the leader) reads the socket.
	reading bool
	// clunks are the fids that ClunkLater gathers.
	clunks []uint64

	// smu is held for reading around every use of sock by a sender or
	// Close, and for writing when the connection dies and sock is
	// closed, so that no send ever reaches a descriptor number reused
	// after the close.
	smu    sync.RWMutex
	closed bool // closed is protected by smu.

	// rbuf and oob are the leader's receive buffers.
	rbuf []byte
	oob  []byte

	callPool sync.Pool

	// trips counts round trips (RoundTrips), for tests of what an
	// operation costs.
	trips atomic.Int64
}

// RoundTrips returns how many requests have been answered or failed
// since the client was made.
func (c *Client) RoundTrips() int64 { return c.trips.Load() }

// call is one request waiting for its reply.
type call struct {
	// done is signalled (without blocking: one token is enough, the
	// waiter checks finished) when the reply came, or when the call is
	// asked to take over reading.
	done     chan struct{}
	finished bool
	buf      []byte // reply packet (owned by the call)
	n        int
	fd       int
	err      error
	enc      Encoder
	req      Request
}

// Reply is a decoded reply: its payload decoder and a donated descriptor
// (-1 if none), which the caller owns.
type Reply struct {
	*Decoder
	FD int
}

// NewClient starts a client on sock (SOCK_SEQPACKET, taken over) and
// negotiates the version.
func NewClient(sock int) (*Client, error) {
	c := &Client{sock: sock, pending: make(map[uint32]*call), nextTag: 1,
		rbuf: make([]byte, MaxMessage), oob: make([]byte, unix.CmsgSpace(4*4))}
	c.callPool.New = func() any {
		return &call{done: make(chan struct{}, 1), buf: make([]byte, MaxMessage)}
	}
	cl := c.get()
	defer c.put(cl)
	cl.req = Request{Type: TVersion, Flags: Version, Count: MaxMessage}
	r, err := c.roundTrip(cl)
	if err != nil {
		return nil, err
	}
	if v := r.U32(); v != Version {
		return nil, unix.EPROTONOSUPPORT
	}
	return c, nil
}

func (c *Client) get() *call {
	cl := c.callPool.Get().(*call)
	cl.fd = -1
	cl.err = nil
	cl.finished = false
	return cl
}

func (c *Client) put(cl *call) { c.callPool.Put(cl) }

// Close shuts the connection down; pending calls fail with EIO.
func (c *Client) Close() {
	c.smu.RLock()
	if !c.closed {
		unix.Shutdown(c.sock, unix.SHUT_RDWR)
	}
	c.smu.RUnlock()
	// A leader, if any, sees the end and closes sock; else do it here.
	c.mu.Lock()
	if c.reading {
		c.mu.Unlock()
		return
	}
	c.reading = true
	c.mu.Unlock()
	c.die()
}

// Dead reports whether the connection is gone (the gofer exited or hung
// up, or sent something that does not parse): every call fails with EIO.
func (c *Client) Dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// send sends one message, never on a closed descriptor.
func (c *Client) send(b []byte) error {
	c.smu.RLock()
	defer c.smu.RUnlock()
	if c.closed {
		return unix.EPIPE
	}
	for {
		err := unix.Sendmsg(c.sock, b, nil, nil, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// wait returns once cl has its reply (or the connection died), reading
// the socket itself whenever no other caller does.
func (c *Client) wait(cl *call) {
	for {
		c.mu.Lock()
		if cl.finished {
			c.mu.Unlock()
			return
		}
		if !c.reading {
			c.reading = true
			c.mu.Unlock()
			c.lead(cl)
			return
		}
		c.mu.Unlock()
		<-cl.done
	}
}

// signal wakes cl's waiter. c.mu is held.
func signal(cl *call) {
	select {
	case cl.done <- struct{}{}:
	default:
	}
}

// lead reads replies, handing each to its call, until me has its own;
// it then gives the reading role to a waiting call, if any. The caller
// holds the role (c.reading).
func (c *Client) lead(me *call) {
	for {
		n, oobn, flags, _, err := unix.Recvmsg(c.sock, c.rbuf, c.oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			c.die()
			return
		}
		fd := -1
		if oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
				for _, m := range msgs {
					if fds, err := unix.ParseUnixRights(&m); err == nil {
						for _, f := range fds {
							if fd < 0 {
								fd = f
							} else {
								unix.Close(f)
							}
						}
					}
				}
			}
		}
		h, _, err := ParseHeader(c.rbuf[:n])
		if err != nil {
			closeFD(fd)
			c.die()
			return
		}
		c.mu.Lock()
		cl, ok := c.pending[h.Tag]
		delete(c.pending, h.Tag)
		if !ok {
			c.mu.Unlock()
			closeFD(fd)
			continue
		}
		cl.n = copy(cl.buf, c.rbuf[:n])
		cl.fd = fd
		cl.finished = true
		if cl != me {
			signal(cl)
			c.mu.Unlock()
			continue
		}
		// Done: pass the role on to a caller still waiting.
		c.reading = false
		for _, w := range c.pending {
			signal(w)
			break
		}
		c.mu.Unlock()
		return
	}
}

// die marks the connection dead, fails every pending call and closes the
// socket. The caller holds the reading role, which it keeps (no one reads
// a dead connection).
func (c *Client) die() {
	c.mu.Lock()
	c.dead = true
	for tag, cl := range c.pending {
		delete(c.pending, tag)
		cl.err = unix.EIO
		cl.finished = true
		signal(cl)
	}
	c.mu.Unlock()
	c.smu.Lock()
	if !c.closed {
		c.closed = true
		unix.Close(c.sock)
	}
	c.smu.Unlock()
}

// roundTrip sends cl.req and waits for its reply; an RError reply becomes
// its errno. The returned decoder reads cl.buf: use it before put(cl).
func (c *Client) roundTrip(cl *call) (Reply, error) {
	c.trips.Add(1)
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return Reply{}, unix.EIO
	}
	tag := c.nextTag
	c.nextTag++
	if c.nextTag == 0 {
		c.nextTag = 1
	}
	c.pending[tag] = cl
	c.mu.Unlock()
	cl.req.Tag = tag
	if err := EncodeRequest(&cl.enc, &cl.req); err != nil {
		c.forget(tag)
		return Reply{}, err
	}
	if err := c.send(cl.enc.B); err != nil {
		if c.forget(tag) {
			// The gofer is gone (no leader may have seen it yet).
			c.mu.Lock()
			c.dead = true
			c.mu.Unlock()
			return Reply{}, unix.EIO
		}
		// The connection died meanwhile and answered the call.
	}
	c.wait(cl)
	if cl.err != nil {
		return Reply{}, cl.err
	}
	h, p, err := ParseHeader(cl.buf[:cl.n])
	if err != nil {
		closeFD(cl.fd)
		return Reply{}, unix.EIO
	}
	d := NewDecoder(p)
	if h.Type == RError {
		closeFD(cl.fd)
		en := unix.Errno(d.U32())
		if en == 0 {
			en = unix.EIO
		}
		return Reply{}, en
	}
	if h.Type != cl.req.Type|rBit {
		closeFD(cl.fd)
		return Reply{}, unix.EIO
	}
	return Reply{Decoder: d, FD: cl.fd}, nil
}

// forget drops a pending tag; it reports whether it was still pending.
func (c *Client) forget(tag uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[tag]
	delete(c.pending, tag)
	return ok
}

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// do runs req and calls f on the reply while its buffer is valid.
func (c *Client) do(req *Request, f func(r Reply) error) error {
	cl := c.get()
	defer c.put(cl)
	cl.req = *req
	r, err := c.roundTrip(cl)
	if err != nil {
		return err
	}
	if f == nil {
		closeFD(r.FD)
		return nil
	}
	if err := f(r); err != nil {
		return err
	}
	return nil
}

// Attach returns the root's fid and attributes.
func (c *Client) Attach() (uint64, Attr, error) {
	var fid uint64
	var a Attr
	err := c.do(&Request{Type: TAttach}, func(r Reply) error {
		fid = r.U64()
		a = r.Attr()
		return r.Done()
	})
	return fid, a, err
}

// WalkResult is one node reached by Walk.
type WalkResult struct {
	FID  uint64
	Attr Attr
}

// Walk resolves names from fid; it returns the nodes reached and the
// error that stopped it before the end (nil if it reached the last one).
func (c *Client) Walk(fid uint64, names []string) ([]WalkResult, error) {
	var out []WalkResult
	var werr error
	err := c.do(&Request{Type: TWalk, FID: fid, Names: names}, func(r Reply) error {
		n := int(r.U16())
		if n > len(names) {
			return unix.EIO
		}
		for i := 0; i < n; i++ {
			out = append(out, WalkResult{FID: r.U64(), Attr: r.Attr()})
		}
		if en := unix.Errno(r.U32()); en != 0 {
			werr = en
		}
		if r.Done() != nil {
			return unix.EIO
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, werr
}

// Walk1 looks up one name below fid.
func (c *Client) Walk1(fid uint64, name string) (uint64, Attr, error) {
	var names [1]string
	names[0] = name
	res, err := c.Walk(fid, names[:])
	if err != nil {
		return 0, Attr{}, err
	}
	if len(res) != 1 {
		return 0, Attr{}, unix.EIO
	}
	return res[0].FID, res[0].Attr, nil
}

// WalkOpen looks up name below fid and, if it is a regular file, opens it
// with flags (Twalkopen), in one round trip. fd is the caller's
// descriptor, or -1 if the node is not a regular file or the gofer could
// not open it (Open then says why).
func (c *Client) WalkOpen(fid uint64, name string, flags uint32) (nfid uint64, a Attr, fd int, err error) {
	fd = -1
	err = c.do(&Request{Type: TWalkOpen, FID: fid, Name: name, Flags: flags}, func(r Reply) error {
		nfid = r.U64()
		a = r.Attr()
		opened := r.U8() != 0
		if r.Done() != nil || opened != (r.FD >= 0) {
			closeFD(r.FD)
			return unix.EIO
		}
		fd = r.FD
		return nil
	})
	return nfid, a, fd, err
}

// StatAt returns the attributes of name in directory fid (Tstatat: no
// fid is made).
func (c *Client) StatAt(fid uint64, name string) (Attr, error) {
	var a Attr
	err := c.do(&Request{Type: TStatAt, FID: fid, Name: name}, func(r Reply) error {
		a = r.Attr()
		return r.Done()
	})
	return a, err
}

// ClunkLater releases fid with others: the fids are sent together in one
// Tclunks once clunkBatch are gathered. The caller must not use fid again
// (the gofer keeps its node, and a directory's host descriptor, until
// then).
func (c *Client) ClunkLater(fid uint64) {
	c.mu.Lock()
	c.clunks = append(c.clunks, fid)
	if len(c.clunks) < clunkBatch {
		c.mu.Unlock()
		return
	}
	fids := c.clunks
	c.clunks = make([]uint64, 0, clunkBatch)
	c.mu.Unlock()
	c.ClunkMany(fids)
}

// ClunkMany releases fids at once (one-way), MaxClunks to a Tclunks: the
// gofer wakes once per message, not once per fid (a listing that walked
// its entries may leave hundreds unused).
func (c *Client) ClunkMany(fids []uint64) {
	for len(fids) > 0 {
		n := min(len(fids), MaxClunks)
		var e Encoder
		if EncodeRequest(&e, &Request{Type: TClunks, FIDs: fids[:n]}) == nil {
			c.send(e.B)
		}
		fids = fids[n:]
	}
}

// clunkBatch is how many fids ClunkLater gathers before sending them.
const clunkBatch = 32

// Clunk releases fid (one-way: no reply).
func (c *Client) Clunk(fid uint64) {
	var e Encoder
	if EncodeRequest(&e, &Request{Type: TClunk, FID: fid}) != nil {
		return
	}
	c.send(e.B)
}

// Stat returns fid's current attributes.
func (c *Client) Stat(fid uint64) (Attr, error) {
	var a Attr
	err := c.do(&Request{Type: TStat, FID: fid}, func(r Reply) error {
		a = r.Attr()
		return r.Done()
	})
	return a, err
}

// Open returns a host descriptor of fid opened with flags; the caller
// owns it.
func (c *Client) Open(fid uint64, flags uint32) (int, error) {
	fd := -1
	err := c.do(&Request{Type: TOpen, FID: fid, Flags: flags}, func(r Reply) error {
		fd = r.FD
		if fd < 0 {
			return unix.EIO
		}
		return nil
	})
	return fd, err
}

// Readlink returns a symlink's target.
func (c *Client) Readlink(fid uint64) (string, error) {
	var s string
	err := c.do(&Request{Type: TReadlink, FID: fid}, func(r Reply) error {
		s = r.Str(MaxPath)
		return r.Done()
	})
	return s, err
}

// Getdents reads raw linux_dirent64 records of directory fid from host
// offset off into f (called with the records, valid only during the call,
// and whether the directory ended after them).
func (c *Client) Getdents(fid uint64, off int64, count int, f func(recs []byte, eof bool) error) error {
	return c.do(&Request{Type: TGetdents, FID: fid, Off: uint64(off), Count: uint32(count)}, func(r Reply) error {
		b := r.Bytes(MaxMessage)
		eof := r.U8() != 0
		if r.Done() != nil {
			return unix.EIO
		}
		return f(b, eof)
	})
}

// StatFS returns statfs(2) of the filesystem holding fid.
func (c *Client) StatFS(fid uint64) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := c.do(&Request{Type: TStatFS, FID: fid}, func(r Reply) error {
		st.Type = int64(r.U64())
		st.Bsize = int64(r.U64())
		st.Blocks = r.U64()
		st.Bfree = r.U64()
		st.Bavail = r.U64()
		st.Files = r.U64()
		st.Ffree = r.U64()
		st.Namelen = int64(r.U64())
		st.Frsize = int64(r.U64())
		st.Flags = int64(r.U64())
		return r.Done()
	})
	return st, err
}

// NewNode runs a request that creates a node (Tcreate, Tmkdir, Tmknod,
// Tsymlink, Tlink) and returns its fid, attributes and, for Tcreate, the
// open host descriptor.
func (c *Client) NewNode(req *Request) (uint64, Attr, int, error) {
	var fid uint64
	var a Attr
	fd := -1
	err := c.do(req, func(r Reply) error {
		fid = r.U64()
		a = r.Attr()
		fd = r.FD
		if r.Done() != nil {
			closeFD(fd)
			return unix.EIO
		}
		return nil
	})
	return fid, a, fd, err
}

// Call runs a request whose reply is empty (Tunlink, Trename, Tsetstat,
// Tsetxattr, Tremovexattr).
func (c *Client) Call(req *Request) error {
	return c.do(req, func(r Reply) error { closeFD(r.FD); return r.Done() })
}

// Bytes runs a request whose reply is one byte string (Tgetxattr,
// Tlistxattr) and returns a copy.
func (c *Client) Bytes(req *Request) ([]byte, error) {
	var out []byte
	err := c.do(req, func(r Reply) error {
		out = append([]byte(nil), r.Decoder.Bytes(MaxMessage)...)
		return r.Done()
	})
	return out, err
}

// Rename runs a Trename and returns the fids and attributes of the moved
// nodes: the one now at the new name and, for RENAME_EXCHANGE, the one now
// at the old name.
func (c *Client) Rename(req *Request) ([]WalkResult, error) {
	var out []WalkResult
	err := c.do(req, func(r Reply) error {
		closeFD(r.FD)
		n := 1
		if req.Flags == unix.RENAME_EXCHANGE {
			n = 2
		}
		for k := 0; k < n; k++ {
			out = append(out, WalkResult{FID: r.U64(), Attr: r.Attr()})
		}
		if r.Done() != nil {
			return unix.EIO
		}
		return nil
	})
	return out, err
}

// Connect asks for a host unix socket of type stype (SOCK_STREAM,
// SOCK_SEQPACKET or SOCK_DGRAM) connected to the socket file fid, as the
// server's --host-uds policy allows (server_socket.go). The caller owns
// the returned descriptor, which is non-blocking and close-on-exec.
func (c *Client) Connect(fid uint64, stype int) (int, error) {
	fd := -1
	err := c.do(&Request{Type: TConnect, FID: fid, Flags: uint32(stype)}, func(r Reply) error {
		fd = r.FD
		if r.Done() != nil || fd < 0 {
			closeFD(fd)
			fd = -1
			return unix.EIO
		}
		return nil
	})
	return fd, err
}

// Bind asks for a host unix socket of type stype bound to name in
// directory fid (a socket file the host sees, made with mode and owned by
// uid and gid), not listening (the caller calls listen(2)). It returns the socket,
// owned by the caller (non-blocking, close-on-exec), and the attributes of
// the new socket file.
func (c *Client) Bind(fid uint64, name string, stype int, mode, uid, gid uint32) (int, Attr, error) {
	fd := -1
	var a Attr
	err := c.do(&Request{Type: TBind, FID: fid, Name: name, Flags: uint32(stype), Mode: mode, UID: uid, GID: gid}, func(r Reply) error {
		fd = r.FD
		a = r.Attr()
		if r.Done() != nil || fd < 0 {
			closeFD(fd)
			fd = -1
			return unix.EIO
		}
		return nil
	})
	return fd, a, err
}
