package gofer

import (
	"golang.org/x/sys/unix"
)

// This file holds the roots a server may serve besides a directory: a bind
// mount of config.json whose source is a single file (a regular file, or a
// device node the sentry replaces by its own).
//
// Each root is served on its own connection by its own Server (one per
// config mount, as the sentry mounts each one separately), so a Tattach is
// always for the connection's one root and read-only is per root.

// NewFileServer serves the non-directory file name in directory dirFD
// (both taken over; dirFD should be O_PATH) on sock. The directory is
// never reachable by the client: it is the root file's parent only so that
// the file can be reached by parent and name like any other file (stat,
// open), and a walk from the root file is ENOTDIR. With readOnly every
// modification is refused with EROFS.
func NewFileServer(dirFD int, name string, sock int, readOnly bool) (*Server, error) {
	if !validName(name) {
		unix.Close(dirFD)
		return nil, unix.EINVAL
	}
	var dst, st unix.Stat_t
	if err := unix.Fstat(dirFD, &dst); err != nil {
		unix.Close(dirFD)
		return nil, err
	}
	if err := unix.Fstatat(dirFD, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(dirFD)
		return nil, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR, unix.S_IFLNK:
		unix.Close(dirFD)
		return nil, unix.EINVAL
	}
	s := &Server{sock: sock, readOnly: readOnly, nodes: make(map[uint64]*node), live: make(map[*node]struct{}), nextFID: 1}
	dir := &node{fd: dirFD, ino: dst.Ino, dev: dst.Dev, mode: dst.Mode, refs: 1}
	root := &node{fd: -1, parent: dir, name: name, ino: st.Ino, dev: st.Dev, mode: st.Mode, refs: 1}
	s.nodes[0] = root
	s.live[dir] = struct{}{}
	s.live[root] = struct{}{}
	return s, nil
}
