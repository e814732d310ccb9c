package gofer

import (
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// This file serves Tconnect and Tbind: host unix sockets for the sandbox
// (runsc's --host-uds). The sentry cannot make host sockets (its seccomp
// filter has no socket, bind or connect outside --network=host) and must
// not resolve host paths; the gofer, which owns the served tree, makes the
// socket, connects or binds it to a file of the tree, and donates it.
//
// Policy (HostUDS): with HostUDSNone (the default) both are refused with
// EPERM. HostUDSOpen allows Tconnect to any socket file of the tree (a
// host process's listener: an escape-relevant capability, which is why it
// is off by default); HostUDSCreate allows Tbind, and Tconnect only to the
// socket files this server bound (the sandbox's own listeners, reached
// from inside the sandbox); HostUDSAll allows both.
//
// Why neither can leave the served tree. Connect and bind take a path
// string, resolved relative to the process's working directory, and
// connect follows a trailing symlink; a name of the tree must therefore
// never be handed to them. Instead:
//   - Tconnect opens the walked socket file itself, one component below
//     its parent's descriptor with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
//     (O_NOFOLLOW without openat2), as an O_PATH descriptor N, checks that
//     it is a socket and the very inode the client walked, and connects to
//     "N" with the working directory at /proc/self/fd (opened before the
//     chroot): the kernel follows that magic link straight to the inode
//     behind N, never re-reading the name, so a symlink or directory
//     swapped in after the check changes nothing, and what is reached is
//     exactly the socket file inside the tree.
//   - Tbind binds to "N/NAME" with N the directory's own O_PATH
//     descriptor: the magic link is the walked directory, NAME one
//     validated component (no '/', not "." or ".."), and bind never
//     follows its last component (an existing name, symlink or not, is
//     EADDRINUSE). Its mode is set through the same kind of magic link.
//
// The working directory is shared by the process's threads, so it is
// changed only under hostUDS.mu, and set back to the served root after
// each call; nothing else in the gofer uses relative paths.

// HostUDS is the --host-uds policy: which host unix socket operations
// the sandbox may ask for.
type HostUDS uint8

// HostUDS values: a bit set.
const (
	HostUDSNone   HostUDS = 0
	HostUDSOpen   HostUDS = 1 << 0
	HostUDSCreate HostUDS = 1 << 1
	HostUDSAll            = HostUDSOpen | HostUDSCreate
)

// ParseHostUDS parses --host-uds: none, open, create or all.
func ParseHostUDS(s string) (HostUDS, error) {
	switch s {
	case "none", "":
		return HostUDSNone, nil
	case "open":
		return HostUDSOpen, nil
	case "create":
		return HostUDSCreate, nil
	case "all":
		return HostUDSAll, nil
	}
	return HostUDSNone, fmt.Errorf("host-uds %q: want none, open, create or all", s)
}

// String returns the flag value of m.
func (m HostUDS) String() string {
	switch m {
	case HostUDSNone:
		return "none"
	case HostUDSOpen:
		return "open"
	case HostUDSCreate:
		return "create"
	case HostUDSAll:
		return "all"
	}
	return "invalid"
}

// hostUDS is the process-wide state host sockets need: set once by
// EnableHostUDS.
var hostUDS struct {
	// mu serialises the calls that move the working directory.
	mu sync.Mutex
	// procFD is /proc/self/fd (O_PATH); homeFD the directory to return
	// to. Both -1 until EnableHostUDS.
	procFD, homeFD int
	enabled        bool
}

// EnableHostUDS gives the package what Tconnect and Tbind need: procFD,
// an O_PATH descriptor of /proc/self/fd opened before the process was
// chrooted, and homeFD, the directory to keep as the working directory
// (the served root). Both are taken over. It must be called before any
// server with a policy other than HostUDSNone serves; without it such
// requests fail with EOPNOTSUPP.
func EnableHostUDS(procFD, homeFD int) {
	hostUDS.mu.Lock()
	defer hostUDS.mu.Unlock()
	hostUDS.procFD, hostUDS.homeFD, hostUDS.enabled = procFD, homeFD, true
}

// udsState is one server's host socket policy and the socket files it
// bound.
type udsState struct {
	mode HostUDS
	// mu protects bound.
	mu sync.Mutex
	// bound are the socket files this server made (device, inode), with
	// HostUDSCreate alone the only ones Tconnect may reach. Each keeps
	// an O_PATH descriptor of its file: while it is open the host cannot
	// reuse the inode number for another file (say, a host service's
	// socket made after the sandbox unlinked its own). At most maxBound
	// are remembered; the sandbox's own sockets beyond are not reachable
	// from inside with create alone.
	bound map[[2]uint64]int
}

// maxBound bounds the socket files a server remembers (and the
// descriptors it holds for them).
const maxBound = 1024

// close closes the descriptors of the bound socket files.
func (u *udsState) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, fd := range u.bound {
		unix.Close(fd)
		delete(u.bound, k)
	}
}

// SetHostUDS sets the server's policy; call it before Serve.
func (s *Server) SetHostUDS(m HostUDS) { s.uds.mode = m }

// dispatchSocket serves Tconnect (n is the socket file) and Tbind (n is
// the directory).
func (s *Server) dispatchSocket(n *node, r *Request, e *Encoder) (int, error) {
	stype := int(r.Flags)
	switch stype {
	case unix.SOCK_STREAM, unix.SOCK_SEQPACKET, unix.SOCK_DGRAM:
	default:
		return -1, unix.ESOCKTNOSUPPORT
	}
	if r.Type == TConnect {
		return s.connect(n, stype)
	}
	if s.readOnly {
		return -1, unix.EROFS
	}
	if s.uds.mode&HostUDSCreate == 0 {
		return -1, unix.EPERM
	}
	if !n.isDir() {
		return -1, unix.ENOTDIR
	}
	fd, a, err := s.bind(n, r.Name, stype, r.Mode&0o7777, int(r.UID), int(r.GID))
	if err != nil {
		return -1, err
	}
	e.Attr(&a)
	return fd, nil
}

// connect returns a host socket of type stype connected to the socket
// file n.
func (s *Server) connect(n *node, stype int) (int, error) {
	if s.uds.mode == HostUDSNone {
		return -1, unix.EPERM
	}
	if n.mode&unix.S_IFMT != unix.S_IFSOCK || n.parent == nil {
		return -1, unix.ECONNREFUSED
	}
	pfd, err := openBeneath(n.parent.fd, n.name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Ino != n.ino || st.Dev != n.dev {
		// The name now holds something else than what was walked.
		return -1, unix.ECONNREFUSED
	}
	if s.uds.mode&HostUDSOpen == 0 {
		s.uds.mu.Lock()
		_, ours := s.uds.bound[[2]uint64{st.Dev, st.Ino}]
		s.uds.mu.Unlock()
		if !ours {
			return -1, unix.EPERM
		}
	}
	sfd, err := unix.Socket(unix.AF_UNIX, stype|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	// Non-blocking: a listener with a full backlog is EAGAIN at once
	// (the sentry waits and asks again) rather than a gofer thread
	// stuck under hostUDS.mu.
	if err := atProcFD(strconv.Itoa(pfd), func(path string) error {
		return unix.Connect(sfd, &unix.SockaddrUnix{Name: path})
	}); err != nil {
		unix.Close(sfd)
		return -1, err
	}
	return sfd, nil
}

// bind makes a host socket of type stype bound to name in directory n
// and returns it (not listening: the sentry calls listen(2) when the
// application does, with its backlog) with the attributes of the new socket file (given mode, and uid and gid where
// the host lets the gofer chown).
func (s *Server) bind(n *node, name string, stype int, mode uint32, uid, gid int) (int, Attr, error) {
	if !validName(name) {
		return -1, Attr{}, unix.EINVAL
	}
	sfd, err := unix.Socket(unix.AF_UNIX, stype|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, Attr{}, err
	}
	fail := func(err error) (int, Attr, error) {
		unix.Close(sfd)
		return -1, Attr{}, err
	}
	if err := atProcFD(strconv.Itoa(n.fd)+"/"+name, func(path string) error {
		return unix.Bind(sfd, &unix.SockaddrUnix{Name: path})
	}); err != nil {
		if err == unix.EINVAL && len(strconv.Itoa(n.fd)+"/"+name) >= 108 {
			err = unix.ENAMETOOLONG
		}
		return fail(err)
	}
	// The socket file is ours: give it the mode asked for (bind made it
	// 0777 less the gofer's umask), through a magic link to the inode
	// just made, and remember it.
	pfd, err := openBeneath(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		unix.Unlinkat(n.fd, name, 0)
		return fail(err)
	}
	defer func() {
		if pfd >= 0 {
			unix.Close(pfd)
		}
	}()
	a, err := fstat(pfd)
	if err == nil && a.Mode&unix.S_IFMT != unix.S_IFSOCK {
		err = unix.EEXIST // swapped at once by someone else
	}
	if err == nil {
		// chown clears nothing that matters on a socket; as for
		// Tmknod, a host that refuses it leaves the gofer's ids.
		unix.Fchownat(pfd, "", uid, gid, unix.AT_EMPTY_PATH)
		err = atProcFD(strconv.Itoa(pfd), func(path string) error {
			return unix.Fchmodat(unix.AT_FDCWD, path, mode, 0)
		})
	}
	if err == nil {
		a, err = fstat(pfd)
	}
	if err != nil {
		unix.Unlinkat(n.fd, name, 0)
		return fail(err)
	}
	s.uds.mu.Lock()
	if s.uds.bound == nil {
		s.uds.bound = make(map[[2]uint64]int)
	}
	key := [2]uint64{a.Dev, a.Ino}
	if _, ok := s.uds.bound[key]; !ok && len(s.uds.bound) < maxBound {
		s.uds.bound[key] = pfd
		pfd = -1 // kept
	}
	s.uds.mu.Unlock()
	return sfd, a, nil
}

// atProcFD runs f(rel) with the working directory at /proc/self/fd, so
// that rel ("N" or "N/NAME") starts at the magic link of descriptor N,
// then returns to the home directory.
func atProcFD(rel string, f func(path string) error) error {
	hostUDS.mu.Lock()
	defer hostUDS.mu.Unlock()
	if !hostUDS.enabled {
		return unix.EOPNOTSUPP
	}
	if err := unix.Fchdir(hostUDS.procFD); err != nil {
		return err
	}
	err := f(rel)
	if err2 := unix.Fchdir(hostUDS.homeFD); err2 != nil {
		// Never go on with the working directory in /proc (no
		// application input leads here: homeFD is a directory the
		// process holds).
		panic("gofer: cannot return to the served root: " + err2.Error())
	}
	if err == unix.EINTR {
		// Nothing was done on a non-blocking socket: ask again.
		err = unix.EAGAIN
	}
	return err
}
