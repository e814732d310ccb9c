package gofer

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// Host unix sockets (--host-uds). sentry/socket/unix finds these two
// methods on a node by interface: connect(2) to a socket file of the tree
// that no sandbox socket is bound to asks HostConnect, bind(2) in a
// directory of the tree asks HostBind. The gofer makes the host socket
// and donates it, under its own copy of the policy (it refuses with EPERM
// what the flag does not allow; gofer/server_socket.go).

// HostConnect returns a host socket of type stype connected to the socket
// file i (non-blocking, owned by the caller). EAGAIN means the host
// listener's backlog is full.
func (i *inode) HostConnect(ctx vfs.Context, stype int) (int, error) {
	if i.ftype() != unix.S_IFSOCK {
		return -1, unix.ECONNREFUSED
	}
	fd, err := i.fs.c.Connect(i.fid.Load(), stype)
	if err != nil {
		return -1, i.fs.check(ctx, err)
	}
	return fd, nil
}

// HostBind makes a host socket of type stype bound to the new name in
// directory i, with mode (umask applied) and the caller's ids, not yet
// listening (the caller listens when the application does); it returns
// it (non-blocking, owned by the caller). The new file is not in the dentry cache: the caller looks
// it up.
func (i *inode) HostBind(ctx vfs.Context, name string, stype int, mode uint32) (int, error) {
	if !i.fs.opts.Writable {
		return -1, unix.EROFS
	}
	if i.ftype() != unix.S_IFDIR {
		return -1, unix.ENOTDIR
	}
	if len(name) > gproto.MaxName {
		return -1, unix.ENAMETOOLONG
	}
	var uid, gid uint32
	if cr := ctx.Credentials(); cr != nil {
		uid, gid = uint32(cr.EffectiveKUID), uint32(cr.EffectiveKGID)
	}
	fd, _, err := i.fs.c.Bind(i.fid.Load(), name, stype, mode, uid, gid)
	if err != nil {
		return -1, i.fs.check(ctx, err)
	}
	// The name was made behind the dentry tree's back: it must be
	// looked up, never answered from the caches of absent names.
	i.forgetMissing(name)
	i.complete.Store(false)
	i.markStale()
	return fd, nil
}
