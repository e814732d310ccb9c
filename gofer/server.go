package gofer

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Server serves one root directory over one connection.
//
// It reaches every file by one component at a time from its parent
// directory's O_PATH descriptor (openat2 with RESOLVE_BENEATH|
// RESOLVE_NO_SYMLINKS, or openat(O_NOFOLLOW) where openat2 is missing), with
// names that cannot contain '/' or be "." or "..": a symlink is returned as
// a symlink, never followed, and no name leads above the root. Directories
// keep their O_PATH descriptor; other files are reached again by parent
// descriptor and name (stat, readlink, open), and an open is checked
// against the walked node's device and inode.
type Server struct {
	sock     int
	readOnly bool
	uds      udsState // host unix sockets (server_socket.go)

	// mu protects nodes, live, nextFID and every node's refs and fd.
	mu      sync.Mutex
	nodes   map[uint64]*node
	live    map[*node]struct{}
	nextFID uint64

	// helpers counts the goroutines serving queued requests besides the
	// receiver (server_loop.go), waiting those blocked reading the socket.
	helpers, waiting atomic.Int32
	// wg counts the serving goroutines and end takes the first reason
	// to stop; both are set by Serve before any request is read.
	wg  *sync.WaitGroup
	end chan<- error

	// wmu is held while sending, so that shutdown does not close the
	// socket under a send.
	wmu    sync.Mutex
	closed bool

	// scratch holds buffers of MaxMessage bytes for the host calls
	// whose result a reply copies (attributes, listings, link targets;
	// see getScratch): a request allocates none. Each of them allocated
	// its buffer, up to 64 KiB (a Tgetxattr asks for the most an
	// attribute may hold), and ls -l's one attribute lookup per file
	// made the gofer collect garbage every few dozen files.
	scratch sync.Pool
}

// getScratch returns a buffer of MaxMessage bytes from s.scratch; the
// caller puts it back once the reply holds what it needed of it.
func (s *Server) getScratch() *[]byte {
	if b, ok := s.scratch.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, MaxMessage)
	return &b
}

// node is one host file the client holds.
type node struct {
	fd     int // O_PATH|O_NOFOLLOW for directories (owned), -1 otherwise
	parent *node
	name   string
	ino    uint64
	dev    uint64
	mode   uint32
	// ph is set on a device placeholder (placeholder.go): mode is the
	// device's.
	ph *placeholder
	// refs counts the fids naming the node, requests using it and
	// children (which use its fd); at zero fd is closed.
	refs int
}

func (n *node) isDir() bool { return n.mode&unix.S_IFMT == unix.S_IFDIR }

// NewServer serves the directory rootFD (which it takes over) on sock (a
// SOCK_SEQPACKET unix socket, also taken over). With readOnly every
// modification is refused with EROFS and files open read-only only.
//
// A writable server sets the process' umask to 0: the sentry has applied
// the container's umask already, and files must be made with exactly the
// mode it asks for (the gofer process serves nothing else).
func NewServer(rootFD, sock int, readOnly bool) (*Server, error) {
	if !readOnly {
		unix.Umask(0)
	}
	var st unix.Stat_t
	if err := unix.Fstat(rootFD, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	s := &Server{sock: sock, readOnly: readOnly, nodes: make(map[uint64]*node), live: make(map[*node]struct{}), nextFID: 1}
	root := &node{fd: rootFD, ino: st.Ino, dev: st.Dev, mode: st.Mode, refs: 1}
	s.nodes[0] = root
	s.live[root] = struct{}{}
	return s, nil
}

// Serve answers requests until the connection closes or a malformed
// message arrives; it then closes everything and returns. Requests are
// received and served as server_loop.go says.
func (s *Server) Serve() error {
	var wg sync.WaitGroup
	defer s.shutdown(&wg)
	end := make(chan error, 1)
	s.wg, s.end = &wg, end
	wg.Add(1)
	go s.receive(&wg, end)
	return <-end
}

func (s *Server) shutdown(wg *sync.WaitGroup) {
	s.wmu.Lock()
	s.closed = true
	unix.Shutdown(s.sock, unix.SHUT_RDWR)
	s.wmu.Unlock()
	wg.Wait()
	unix.Close(s.sock)
	s.uds.close()
	s.mu.Lock()
	for n := range s.live {
		if n.fd >= 0 {
			unix.Close(n.fd)
			n.fd = -1
		}
	}
	s.nodes = nil
	s.live = nil
	s.mu.Unlock()
}

// get returns fid's node with a reference for the caller (put it back
// with release).
func (s *Server) get(fid uint64) (*node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[fid]
	if !ok {
		return nil, unix.EBADF
	}
	n.refs++
	return n, nil
}

// release drops a reference on n, closing it (and releasing its parent)
// at zero.
func (s *Server) release(n *node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n != nil {
		n.refs--
		if n.refs > 0 {
			return
		}
		if n.fd >= 0 {
			unix.Close(n.fd)
			n.fd = -1
		}
		delete(s.live, n)
		n = n.parent
	}
}

func (s *Server) newFID(n *node) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	fid := s.nextFID
	s.nextFID++
	n.refs++
	s.nodes[fid] = n
	return fid
}

func (s *Server) clunk(fid uint64) {
	if fid == 0 {
		return // the root lives as long as the connection
	}
	s.mu.Lock()
	n, ok := s.nodes[fid]
	delete(s.nodes, fid)
	s.mu.Unlock()
	if ok {
		s.release(n)
	}
}

// reply sends e's message, with fd (if >= 0) donated and then closed here.
func (s *Server) reply(e *Encoder, fd int) {
	if err := e.Finish(); err != nil {
		e.B = e.B[:HeaderSize]
		e.B[8], e.B[9] = byte(RError&0xff), byte(RError>>8)
		e.U32(uint32(unix.EMSGSIZE))
		e.Finish()
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	s.wmu.Lock()
	if !s.closed {
		flags := unix.MSG_DONTWAIT
		for {
			err := unix.Sendmsg(s.sock, e.B, oob, nil, flags)
			if err == unix.EAGAIN && flags != 0 {
				// The client's queue is full: its callers may first
				// have to finish sending. Someone must go on reading
				// while this waits (server_loop.go).
				s.startStandby()
				flags = 0
				continue
			}
			if err != unix.EINTR {
				break
			}
		}
	}
	s.wmu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
}

func (s *Server) handle(r *Request) {
	e := &Encoder{B: make([]byte, 0, 256)}
	e.Start(r.Tag, r.Type|rBit)
	fd, err := s.dispatch(r, e)
	if err != nil {
		e.Start(r.Tag, RError)
		errno, ok := err.(unix.Errno)
		if !ok {
			errno = unix.EIO
		}
		e.U32(uint32(errno))
		fd = -1
	}
	s.reply(e, fd)
}

// modifying reports whether t changes the tree.
func modifying(t uint16) bool {
	switch t {
	case TCreate, TMkdir, TMknod, TSymlink, TLink, TUnlink, TRename, TSetStat, TSetXattr, TRemoveXattr:
		return true
	}
	return false
}

func (s *Server) dispatch(r *Request, e *Encoder) (int, error) {
	if s.readOnly && modifying(r.Type) {
		return -1, unix.EROFS
	}
	switch r.Type {
	case TVersion:
		if r.Flags != Version {
			return -1, unix.EPROTONOSUPPORT
		}
		e.U32(Version)
		e.U32(MaxMessage)
		return -1, nil
	}
	n, err := s.get(r.FID)
	if err != nil {
		return -1, err
	}
	defer s.release(n)
	switch r.Type {
	case TAttach:
		if r.FID != 0 {
			return -1, unix.EINVAL
		}
		a, err := s.stat(n)
		if err != nil {
			return -1, err
		}
		e.U64(0)
		e.Attr(&a)
		return -1, nil
	case TWalk:
		return -1, s.walk(n, r.Names, e)
	case TWalkNames:
		return -1, s.walkNames(n, r.Names, r.Flags, e)
	case TWalkOpen:
		return s.walkOpen(n, r.Name, r.Flags, e)
	case TStat:
		a, err := s.stat(n)
		if err != nil {
			return -1, err
		}
		e.Attr(&a)
		return -1, nil
	case TOpen:
		fd, err := s.open(n, r.Flags)
		if err != nil {
			return -1, err
		}
		return fd, nil
	case TReadlink:
		if n.mode&unix.S_IFMT != unix.S_IFLNK || n.parent == nil {
			return -1, unix.EINVAL
		}
		bp := s.getScratch()
		defer s.scratch.Put(bp)
		buf := (*bp)[:MaxPath]
		k, err := unix.Readlinkat(n.parent.fd, n.name, buf)
		if err != nil {
			return -1, err
		}
		e.Bytes(buf[:k])
		return -1, nil
	case TGetdents:
		return -1, s.getdents(n, r, e)
	case TGetdentsWalk:
		return -1, s.getdentsWalk(n, r, e)
	case TStatFS:
		var st unix.Statfs_t
		d := n
		if !d.isDir() {
			d = n.parent
		}
		if err := unix.Fstatfs(d.fd, &st); err != nil {
			return -1, err
		}
		if s.readOnly {
			st.Flags |= unix.ST_RDONLY
		}
		for _, v := range []uint64{uint64(st.Type), uint64(st.Bsize), st.Blocks, st.Bfree, st.Bavail, st.Files, st.Ffree, uint64(st.Namelen), uint64(st.Frsize), uint64(st.Flags)} {
			e.U64(v)
		}
		return -1, nil
	}
	if r.Type == TConnect || r.Type == TBind {
		return s.dispatchSocket(n, r, e)
	}
	return s.dispatchWrite(n, r, e)
}

// walk resolves names one by one below n, replying with a fid and the
// attributes of each node reached, then the errno that stopped it (0).
func (s *Server) walk(n *node, names []string, e *Encoder) error {
	countAt := len(e.B)
	e.U16(0)
	var werr unix.Errno
	k := 0
	for _, name := range names {
		c, a, err := s.child(n, name)
		if err != nil {
			werr = toErrno(err)
			break
		}
		fid := s.newFID(c)
		e.U64(fid)
		e.Attr(&a)
		n = c
		k++
	}
	if k == 0 && werr != 0 {
		return werr
	}
	e.B[countAt], e.B[countAt+1] = byte(k), byte(k>>8)
	e.U32(uint32(werr))
	return nil
}

// walkOpen looks up name in directory n, replying with a fid and its
// attributes, and opens it with flags if it is a regular file (open), to
// donate the descriptor; a byte of the reply says whether it does. A
// failed open leaves the walk's reply as it is.
func (s *Server) walkOpen(n *node, name string, flags uint32, e *Encoder) (int, error) {
	c, a, err := s.child(n, name)
	if err != nil {
		return -1, err
	}
	e.U64(s.newFID(c))
	e.Attr(&a)
	fd := -1
	if c.mode&unix.S_IFMT == unix.S_IFREG {
		if f, err := s.open(c, flags); err == nil {
			fd = f
		}
	}
	if fd >= 0 {
		e.U8(1)
	} else {
		e.U8(0)
	}
	return fd, nil
}

// walkNames looks up each of names in directory n, replying with their
// count and, for each, its errno and (if 0) a fid, its attributes and its
// flags (walkResult).
func (s *Server) walkNames(n *node, names []string, flags uint32, e *Encoder) error {
	if !n.isDir() {
		return unix.ENOTDIR
	}
	e.U16(uint16(len(names)))
	for _, name := range names {
		s.walkResult(n, name, flags, e)
	}
	return nil
}

// Flags of a walked name's result (TWalkNames, TGetdentsWalk).
const (
	// resultNoXattr: the file has no attribute the sandbox can see.
	resultNoXattr = 1
)

// walkResult looks up name in directory n and encodes the result: its
// errno and, if 0, a fid, its attributes and a flags byte (with
// WalkXattrs, resultNoXattr if listxattrat found no attribute that
// sandboxXattrList shows).
func (s *Server) walkResult(n *node, name string, flags uint32, e *Encoder) {
	c, a, err := s.child(n, name)
	if err != nil {
		e.U32(uint32(toErrno(err)))
		return
	}
	e.U32(0)
	e.U64(s.newFID(c))
	e.Attr(&a)
	var rf uint8
	if flags&WalkXattrs != 0 && s.noXattrs(n, name) {
		rf |= resultNoXattr
	}
	e.U8(rf)
}

// noXattrs reports whether name in directory n has no attribute the
// sandbox can see (false if that cannot be told: listxattrat needs Linux
// 6.13, and the list must fit the scratch buffer).
func (s *Server) noXattrs(n *node, name string) bool {
	if noXattrAt.Load() {
		return false
	}
	bp := s.getScratch()
	defer s.scratch.Put(bp)
	k, err := llistxattrAt(n.fd, name, (*bp)[:MaxMessage-HeaderSize-64])
	if err == unix.ENOSYS {
		noXattrAt.Store(true)
	}
	return err == nil && !hasSandboxXattr((*bp)[:k])
}

// noXattrAt is set once listxattrat reports ENOSYS (before Linux 6.13).
var noXattrAt atomic.Bool

func toErrno(err error) unix.Errno {
	if en, ok := err.(unix.Errno); ok {
		return en
	}
	return unix.EIO
}

// child looks up name in directory n without following it. A directory
// gets an O_PATH descriptor of its own (the base of lookups below it);
// any other file is reached again by parent and name when it is used, so
// it is only stat'ed here: one fstatat instead of an open, an fstat and a
// close, which a listing that walks its entries pays per entry. name is
// one component (validName), so the stat cannot leave n, and does not
// follow a symlink.
func (s *Server) child(n *node, name string) (*node, Attr, error) {
	if n.mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, Attr{}, unix.ENOTDIR
	}
	if !validName(name) {
		return nil, Attr{}, unix.EINVAL
	}
	var st unix.Stat_t
	if err := fstatatRetry(n.fd, name, &st); err != nil {
		return nil, Attr{}, err
	}
	a := AttrFromStat(&st)
	fd := -1
	if a.Mode&unix.S_IFMT == unix.S_IFDIR {
		var err error
		if fd, err = openBeneath(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC); err != nil {
			return nil, Attr{}, err
		}
		// What was opened is the node (the name may have been
		// replaced since the stat).
		if a, err = fstat(fd); err != nil {
			unix.Close(fd)
			return nil, Attr{}, err
		}
		if a.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			fd = -1
		}
	}
	var ph *placeholder
	if placeholderCandidate(&a) {
		ph = placeholderOf(n, name, &a)
	}
	c := &node{fd: fd, parent: n, name: name, ino: a.Ino, dev: a.Dev, mode: a.Mode, ph: ph}
	s.mu.Lock()
	n.refs++ // for c
	s.live[c] = struct{}{}
	s.mu.Unlock()
	return c, a, nil
}

// fstatatRetry is fstatat of name in dirfd without following it, retried
// on EINTR.
func fstatatRetry(dirfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// stat returns n's attributes without following it.
func (s *Server) stat(n *node) (Attr, error) {
	if n.fd >= 0 {
		return fstat(n.fd)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(n.parent.fd, n.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Attr{}, err
	}
	a := AttrFromStat(&st)
	n.ph.present(&a)
	return a, nil
}

var noOpenat2 atomic.Bool // set once openat2 reports ENOSYS

// openBeneath opens one component name below dirfd, refusing symlinks
// (other than a trailing one with O_PATH|O_NOFOLLOW) and escapes.
func openBeneath(dirfd int, name string, flags int) (int, error) {
	for {
		var fd int
		var err error
		if !noOpenat2.Load() {
			fd, err = unix.Openat2(dirfd, name, &unix.OpenHow{
				Flags:   uint64(flags),
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
			})
			if err == unix.ENOSYS {
				noOpenat2.Store(true)
				continue
			}
		} else {
			fd, err = unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW, 0)
		}
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

func fstat(fd int) (Attr, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Attr{}, err
	}
	return AttrFromStat(&st), nil
}

// open opens n for I/O with flags (O_ACCMODE, O_TRUNC, O_APPEND only) and
// returns the descriptor to donate. Only regular files and directories are
// opened: host devices, fifos and sockets are not the container's to use.
func (s *Server) open(n *node, flags uint32) (int, error) {
	acc := flags & unix.O_ACCMODE
	if s.readOnly && (acc != unix.O_RDONLY || flags&unix.O_TRUNC != 0) {
		return -1, unix.EROFS
	}
	want := int(flags&(unix.O_ACCMODE|unix.O_TRUNC|unix.O_APPEND)) | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	var fd int
	var err error
	switch n.mode & unix.S_IFMT {
	case unix.S_IFREG:
		if n.fd >= 0 {
			// An unnamed file (Ttmpfile): its own read-write descriptor.
			return unix.FcntlInt(uintptr(n.fd), unix.F_DUPFD_CLOEXEC, 0)
		}
		if n.parent == nil {
			return -1, unix.EACCES
		}
		fd, err = openBeneath(n.parent.fd, n.name, want|unix.O_NOFOLLOW)
	case unix.S_IFDIR:
		if acc != unix.O_RDONLY {
			return -1, unix.EISDIR
		}
		fd, err = openBeneath(n.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	default:
		return -1, unix.EACCES
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != n.ino || st.Dev != n.dev {
		unix.Close(fd)
		return -1, unix.EACCES
	}
	if n.mode&unix.S_IFMT == unix.S_IFREG {
		// Non-blocking was only to avoid hanging on a swapped-in fifo.
		unix.SetNonblock(fd, false)
	}
	return fd, nil
}

// getdents reads raw linux_dirent64 records of directory n from offset.
func (s *Server) getdents(n *node, r *Request, e *Encoder) error {
	if n.mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	count := int(r.Count)
	if count > MaxMessage-HeaderSize-64 {
		count = MaxMessage - HeaderSize - 64
	}
	if count < 512 {
		return unix.EINVAL
	}
	fd, err := openBeneath(n.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if r.Off != 0 {
		if _, err := unix.Seek(fd, int64(r.Off), unix.SEEK_SET); err != nil {
			return err
		}
	}
	// Fill the reply, and tell the client when the directory ended so
	// that it need not ask again.
	bp := s.getScratch()
	defer s.scratch.Put(bp)
	buf := (*bp)[:count]
	used, eof := 0, false
	for count-used >= 1024 {
		k, err := unix.Getdents(fd, buf[used:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if used > 0 {
				break
			}
			return err
		}
		if k == 0 {
			eof = true
			break
		}
		used += k
	}
	e.Bytes(buf[:used])
	if eof {
		e.U8(1)
	} else {
		e.U8(0)
	}
	return nil
}

// walkReplyEntry bounds what one entry adds to a TGetdentsWalk reply past
// its record: errno, fid and attributes.
const walkReplyEntry = 4 + 8 + 128

// getdentsWalk is getdents that also walks each entry returned: it
// replies with the records, the end-of-directory flag, then for each
// entry but "." and ".." (in order) its errno and, if 0, a fid and its
// attributes. It returns fewer records than would fit a plain getdents,
// so that the lookups fit the message too.
func (s *Server) getdentsWalk(n *node, r *Request, e *Encoder) error {
	if !n.isDir() {
		return unix.ENOTDIR
	}
	fd, err := openBeneath(n.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if r.Off != 0 {
		if _, err := unix.Seek(fd, int64(r.Off), unix.SEEK_SET); err != nil {
			return err
		}
	}
	budget := min(int(r.Count), MaxMessage-HeaderSize-64)
	if budget < 1024 {
		return unix.EINVAL
	}
	// Records are taken whole, in order, while they and their lookups
	// fit the budget; the rest are read again by the next request.
	var recs []byte
	var names []string
	bp := s.getScratch()
	defer s.scratch.Put(bp)
	buf := (*bp)[:8192]
	used, eof := 0, false
fill:
	for {
		k, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if len(recs) > 0 {
				break
			}
			return err
		}
		if k == 0 {
			eof = true
			break
		}
		for b := buf[:k]; len(b) >= 19; {
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				return unix.EIO
			}
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			cost := reclen
			dot := string(name) == "." || string(name) == ".."
			if !dot {
				cost += walkReplyEntry
			}
			if used+cost > budget {
				break fill
			}
			used += cost
			recs = append(recs, b[:reclen]...)
			if !dot {
				names = append(names, string(name))
			}
			b = b[reclen:]
		}
	}
	e.Bytes(recs)
	if eof {
		e.U8(1)
	} else {
		e.U8(0)
	}
	e.U16(uint16(len(names)))
	for _, name := range names {
		s.walkResult(n, name, r.Flags, e)
	}
	return nil
}
