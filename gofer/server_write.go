package gofer

import (
	"golang.org/x/sys/unix"
)

// dispatchWrite serves the requests that change the tree (refused earlier
// on a read-only server) and the xattr reads. Every name is one validated
// component, relative to a node's own descriptor.
func (s *Server) dispatchWrite(n *node, r *Request, e *Encoder) (int, error) {
	switch r.Type {
	case TUnlink, TRename, TLink:
		if !n.isDir() {
			return -1, unix.ENOTDIR
		}
	}
	switch r.Type {
	case TCreate:
		if n.mode&unix.S_IFMT != unix.S_IFDIR {
			return -1, unix.ENOTDIR
		}
		flags := int(r.Flags&(unix.O_ACCMODE|unix.O_APPEND)) | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
		fd, err := unix.Openat(n.fd, r.Name, flags, r.Mode&0o7777)
		if err != nil {
			return -1, err
		}
		a, err := s.ownNew(fd, r)
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		// The new file is the one fd holds (O_EXCL): its node needs no
		// walk, and it is no placeholder (it has no marker).
		s.replyNew(e, &node{fd: -1, parent: n, name: r.Name, ino: a.Ino, dev: a.Dev, mode: a.Mode}, &a)
		return fd, nil
	case TMkdir, TMknod, TSymlink:
		if n.mode&unix.S_IFMT != unix.S_IFDIR {
			return -1, unix.ENOTDIR
		}
		var err error
		switch r.Type {
		case TMkdir:
			err = unix.Mkdirat(n.fd, r.Name, r.Mode&0o7777)
		case TMknod:
			switch r.Mode & unix.S_IFMT {
			case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
				err = unix.Mknodat(n.fd, r.Name, r.Mode, 0)
			case unix.S_IFCHR, unix.S_IFBLK:
				// Never a device node on the host: a placeholder.
				if err := s.mkPlaceholder(n, r); err != nil {
					return -1, err
				}
				return -1, s.replyChild(n, r.Name, e)
			default:
				return -1, unix.EINVAL
			}
		case TSymlink:
			if r.Name2 == "" {
				return -1, unix.ENOENT
			}
			err = unix.Symlinkat(r.Name2, n.fd, r.Name)
		}
		if err != nil {
			return -1, err
		}
		unix.Fchownat(n.fd, r.Name, int(r.UID), int(r.GID), unix.AT_SYMLINK_NOFOLLOW)
		return -1, s.replyChild(n, r.Name, e)
	case TTmpfile:
		return s.tmpfile(n, r, e)
	case TStatAt:
		a, err := s.statAt(n, r.Name)
		if err != nil {
			return -1, err
		}
		e.Attr(&a)
		return -1, nil
	case TLink:
		t, err := s.get(r.FID2)
		if err != nil {
			return -1, err
		}
		defer s.release(t)
		if t.parent == nil || t.mode&unix.S_IFMT == unix.S_IFDIR {
			return -1, unix.EPERM
		}
		if t.name == "" && t.fd >= 0 {
			// An unnamed file: linked by its descriptor (AT_EMPTY_PATH
			// needs CAP_DAC_READ_SEARCH, which the gofer keeps). The
			// host refuses one made with O_EXCL (ENOENT).
			if err := unix.Linkat(t.fd, "", n.fd, r.Name, unix.AT_EMPTY_PATH); err != nil {
				return -1, err
			}
			return -1, s.replyChild(n, r.Name, e)
		}
		// The target is reached by parent and name: refuse to link
		// another file that took that name since the walk.
		var st unix.Stat_t
		if err := unix.Fstatat(t.parent.fd, t.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, err
		}
		if st.Ino != t.ino || st.Dev != t.dev {
			return -1, unix.ESTALE
		}
		if err := unix.Linkat(t.parent.fd, t.name, n.fd, r.Name, 0); err != nil {
			return -1, err
		}
		return -1, s.replyChild(n, r.Name, e)
	case TUnlink:
		return -1, unix.Unlinkat(n.fd, r.Name, int(r.Flags&unix.AT_REMOVEDIR))
	case TRename:
		n2, err := s.get(r.FID2)
		if err != nil {
			return -1, err
		}
		defer s.release(n2)
		if !n2.isDir() {
			return -1, unix.ENOTDIR
		}
		// The reply names the moved nodes afresh (fid and attributes
		// at the new name; with RENAME_EXCHANGE, then the other one at
		// the old name): the gofer reaches a non-directory by parent
		// and name.
		switch r.Flags {
		case 0:
			if err := unix.Renameat(n.fd, r.Name, n2.fd, r.Name2); err != nil {
				return -1, err
			}
			return -1, s.replyChild(n2, r.Name2, e)
		case unix.RENAME_NOREPLACE:
			if err := unix.Renameat2(n.fd, r.Name, n2.fd, r.Name2, unix.RENAME_NOREPLACE); err != nil {
				return -1, err
			}
			return -1, s.replyChild(n2, r.Name2, e)
		case unix.RENAME_EXCHANGE:
			if err := unix.Renameat2(n.fd, r.Name, n2.fd, r.Name2, unix.RENAME_EXCHANGE); err != nil {
				return -1, err
			}
			if err := s.replyChild(n2, r.Name2, e); err != nil {
				return -1, err
			}
			return -1, s.replyChild(n, r.Name, e)
		}
		// RENAME_WHITEOUT makes a device node: not the container's.
		return -1, unix.EINVAL
	case TSetStat:
		return -1, s.setStat(n, r)
	case TGetXattr, TListXattr, TSetXattr, TRemoveXattr:
		return -1, s.xattr(n, r, e)
	}
	return -1, unix.ENOSYS
}

// statAt returns the attributes of name in directory n, without
// following it (a placeholder's as its device's).
func (s *Server) statAt(n *node, name string) (Attr, error) {
	if !n.isDir() {
		return Attr{}, unix.ENOTDIR
	}
	var st unix.Stat_t
	if err := unix.Fstatat(n.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Attr{}, err
	}
	a := AttrFromStat(&st)
	if placeholderCandidate(&a) {
		placeholderOf(n, name, &a)
	}
	return a, nil
}

// tmpfile serves Ttmpfile: an O_TMPFILE file in directory n. Its node
// keeps a read-write descriptor of it (it has no name to reach it by),
// duplicated for each open; the reply donates another.
func (s *Server) tmpfile(n *node, r *Request, e *Encoder) (int, error) {
	if s.readOnly {
		return -1, unix.EROFS
	}
	if !n.isDir() {
		return -1, unix.ENOTDIR
	}
	flags := unix.O_TMPFILE | unix.O_RDWR | unix.O_CLOEXEC | int(r.Flags&unix.O_EXCL)
	fd, err := unix.Openat(n.fd, ".", flags, r.Mode&0o7777)
	if err != nil {
		return -1, err
	}
	a, err := s.ownNew(fd, r)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	keep, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	s.replyNew(e, &node{fd: keep, parent: n, ino: a.Ino, dev: a.Dev, mode: a.Mode}, &a)
	return fd, nil
}

// replyNew registers c, a node made from the descriptor of a file just
// created (with attributes a), holding a reference on its parent, and
// appends its fid and attributes.
func (s *Server) replyNew(e *Encoder, c *node, a *Attr) {
	s.mu.Lock()
	c.parent.refs++ // for c
	s.live[c] = struct{}{}
	s.mu.Unlock()
	e.U64(s.newFID(c))
	e.Attr(a)
}

// ownNew gives the regular file fd that it just made the owner and group
// asked for in r, and returns its attributes. The host made it with the
// gofer's own, which are often the ones asked for (a root container), and
// a chown that changes nothing is skipped. A chown clears S_ISUID and
// S_ISGID even for a privileged caller, and the host may have dropped
// S_ISGID at creation (a group the gofer is not in): the mode asked for is
// then set again.
func (s *Server) ownNew(fd int, r *Request) (Attr, error) {
	a, err := fstat(fd)
	if err != nil {
		return Attr{}, err
	}
	changed := false
	if a.UID != r.UID || a.GID != r.GID {
		if err := unix.Fchown(fd, int(r.UID), int(r.GID)); err != nil && err != unix.EPERM {
			return Attr{}, err
		}
		changed = true
	}
	if want := r.Mode & 0o7777; want&(unix.S_ISUID|unix.S_ISGID) != 0 && (changed || a.Mode&0o7777 != want) {
		unix.Fchmod(fd, want)
		changed = true
	}
	if changed {
		return fstat(fd)
	}
	return a, nil
}

// replyChild walks to the new child name of n and appends its fid and
// attributes.
func (s *Server) replyChild(n *node, name string, e *Encoder) error {
	c, a, err := s.child(n, name)
	if err != nil {
		return err
	}
	e.U64(s.newFID(c))
	e.Attr(&a)
	return nil
}

func (s *Server) setStat(n *node, r *Request) error {
	if r.Mask&(SetUID|SetGID) != 0 {
		uid, gid := -1, -1
		if r.Mask&SetUID != 0 {
			uid = int(r.UID)
		}
		if r.Mask&SetGID != 0 {
			gid = int(r.GID)
		}
		fd, err := s.pathFD(n)
		if err != nil {
			return err
		}
		err = unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH)
		if fd != n.fd {
			unix.Close(fd)
		}
		if err != nil {
			return err
		}
	}
	if r.Mask&(SetMode|SetSize|SetAtime|SetMtime) == 0 {
		return nil
	}
	if n.mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	// The remaining calls need a real descriptor of the node.
	fd, err := s.attrFD(n)
	if r.Mask&SetSize != 0 {
		if err == nil {
			unix.Close(fd)
		}
		fd, err = s.open(n, unix.O_WRONLY)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if r.Mask&SetMode != 0 {
		mode := r.Mode & 0o7777
		if n.ph != nil {
			mode |= unix.S_ISVTX // still a placeholder
		}
		if err := unix.Fchmod(fd, mode); err != nil {
			return err
		}
	}
	if r.Mask&SetSize != 0 {
		if err := unix.Ftruncate(fd, int64(r.Off)); err != nil {
			return err
		}
	}
	if r.Mask&(SetAtime|SetMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if r.Mask&SetAtime != 0 {
			ts[0] = r.Atime
		}
		if r.Mask&SetMtime != 0 {
			ts[1] = r.Mtime
		}
		return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
	}
	return nil
}

// attrFD returns a read-only descriptor of n for attribute changes: n
// opened as usual, or the host file behind a placeholder (which is
// never donated).
func (s *Server) attrFD(n *node) (int, error) {
	if n.ph == nil {
		return s.open(n, unix.O_RDONLY)
	}
	if n.parent == nil {
		return -1, unix.EACCES
	}
	fd, err := openBeneath(n.parent.fd, n.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != n.ino || st.Dev != n.dev {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	return fd, nil
}

// xattr serves the attribute requests, with the sandbox's names mapped
// to the host's (placeholder.go): regular files, directories and
// placeholders through a descriptor, symlinks by parent and name.
func (s *Server) xattr(n *node, r *Request, e *Encoder) error {
	var host string
	if r.Type != TListXattr {
		var ok bool
		if host, ok = hostXattrName(r.Name); !ok {
			return unix.EOPNOTSUPP
		}
	}
	size := int(r.Count)
	if size > MaxMessage-HeaderSize-64 {
		size = MaxMessage - HeaderSize - 64
	}
	if n.mode&unix.S_IFMT == unix.S_IFLNK {
		return s.symlinkXattr(n, r, host, size, e)
	}
	switch n.mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFCHR, unix.S_IFBLK:
	default:
		return unix.EOPNOTSUPP
	}
	fd, err := s.attrFD(n)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	bp := s.getScratch()
	defer s.scratch.Put(bp)
	switch r.Type {
	case TGetXattr:
		buf := (*bp)[:size]
		k, err := unix.Fgetxattr(fd, host, buf)
		if err != nil {
			return err
		}
		e.Bytes(buf[:k])
	case TListXattr:
		buf := (*bp)[:MaxMessage-HeaderSize-64]
		k, err := unix.Flistxattr(fd, buf)
		if err != nil {
			return err
		}
		e.Bytes(sandboxXattrList(buf[:k]))
	case TSetXattr:
		return unix.Fsetxattr(fd, host, r.Value, int(r.Flags))
	case TRemoveXattr:
		return unix.Fremovexattr(fd, host)
	}
	return nil
}

// symlinkXattr serves an attribute request on a symlink, which no
// descriptor can reach: the *xattrat calls by parent and name (after
// checking that the name still holds the walked link).
func (s *Server) symlinkXattr(n *node, r *Request, host string, size int, e *Encoder) error {
	if n.parent == nil {
		return unix.EOPNOTSUPP
	}
	var st unix.Stat_t
	if err := unix.Fstatat(n.parent.fd, n.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Ino != n.ino || st.Dev != n.dev {
		return unix.ESTALE
	}
	var err error
	bp := s.getScratch()
	defer s.scratch.Put(bp)
	switch r.Type {
	case TGetXattr:
		buf := (*bp)[:size]
		var k int
		if k, err = lgetxattrAt(n.parent.fd, n.name, host, buf); err == nil {
			e.Bytes(buf[:k])
		}
	case TListXattr:
		buf := (*bp)[:MaxMessage-HeaderSize-64]
		var k int
		if k, err = llistxattrAt(n.parent.fd, n.name, buf); err == nil {
			e.Bytes(sandboxXattrList(buf[:k]))
		}
	case TSetXattr:
		err = lsetxattrAt(n.parent.fd, n.name, host, r.Value, int(r.Flags))
	case TRemoveXattr:
		err = lremovexattrAt(n.parent.fd, n.name, host)
	}
	if err == unix.ENOSYS {
		err = unix.EOPNOTSUPP // a kernel before 6.13
	}
	return err
}

// pathFD returns an O_PATH descriptor of n itself: its own for a
// directory, else one opened by parent and name without following, and
// checked to be the walked file (the name may have been unlinked or
// renamed over since). The caller closes it unless it is n.fd.
func (s *Server) pathFD(n *node) (int, error) {
	if n.fd >= 0 {
		return n.fd, nil
	}
	if n.parent == nil {
		return -1, unix.EACCES
	}
	fd, err := openBeneath(n.parent.fd, n.name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != n.ino || st.Dev != n.dev {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	return fd, nil
}
