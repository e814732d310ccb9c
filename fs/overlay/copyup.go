package overlay

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// copyUp gives i an upper node: its parent directories are copied up
// first, then the node itself (data unless metaOnly, which a truncation to
// zero asks for). A hard-linked lower file is copied once: its other names
// are linked to the same upper inode. Concurrent callers wait for one
// copy-up (i.mu, then the node's mu).
func (i *inode) copyUp(ctx vfs.Context, metaOnly bool) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.upper != nil {
		return nil
	}
	p := i.parent
	if p == nil {
		// Only the root has no parent, and it always has an upper node.
		return unix.ENOENT
	}
	if err := p.copyUp(ctx, false); err != nil {
		return err
	}
	pu := p.upperInode()
	rc := vfs.KernelContext{}
	n := i.node
	if n == nil {
		u, err := i.fs.copyUpNode(rc, i.lower, pu, i.name, metaOnly)
		if err != nil {
			return err
		}
		i.upper = u
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.upper != nil {
		// Another name of the file was copied up: link this one.
		u, err := pu.Link(rc, i.name, n.upper)
		if err != nil {
			return err
		}
		n.gone++
		i.upper = u
		return nil
	}
	u, err := i.fs.copyUpNode(rc, i.lower, pu, i.name, metaOnly)
	if err != nil {
		return err
	}
	i.upper = u
	n.gone++
	st, err := i.lower.Stat(rc)
	if err != nil {
		return nil
	}
	// The index keeps the upper inode alive while lower names remain,
	// whatever happens to the upper names.
	if x, err := i.fs.index.Link(rc, indexName(&st), u); err == nil {
		n.upper = x
	}
	return nil
}

// copyBufSize is the chunk in which file data is copied up.
const copyBufSize = 64 << 10

// copyUpNode creates name in the upper directory pu as a copy of the lower
// node l: type, mode, owner, device number, symlink target, data, xattrs
// and times. pu's own times are kept (the copy is not a modification of
// the directory), as Linux's copy-up does.
func (fs *Filesystem) copyUpNode(ctx vfs.Context, l, pu vfs.Inode, name string, metaOnly bool) (vfs.Inode, error) {
	st, err := l.Stat(ctx)
	if err != nil {
		return nil, err
	}
	pst, err := pu.Stat(ctx)
	if err != nil {
		return nil, err
	}
	opts := vfs.CreateOptions{Mode: st.Mode, UID: st.UID, GID: st.GID, Rdev: st.Rdev}
	ftype := st.Mode & unix.S_IFMT
	if ftype == unix.S_IFLNK {
		if opts.Target, err = l.Readlink(ctx); err != nil {
			return nil, err
		}
	}
	u, err := pu.Create(ctx, name, &opts)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (vfs.Inode, error) {
		if ftype == unix.S_IFDIR {
			pu.Rmdir(ctx, name, u)
		} else {
			pu.Unlink(ctx, name, u)
		}
		u.Release()
		return nil, err
	}
	if ftype == unix.S_IFREG && !metaOnly && st.Size > 0 {
		if err := copyData(ctx, l, u); err != nil {
			return fail(err)
		}
	}
	if lx, ok := l.(vfs.XattrInode); ok {
		if ux, ok := u.(vfs.XattrInode); ok {
			names, _ := lx.ListXattr(ctx)
			for _, xn := range names {
				v, err := lx.GetXattr(ctx, xn)
				if err != nil {
					continue
				}
				if err := ux.SetXattr(ctx, xn, v, 0); err != nil {
					return fail(err)
				}
			}
		}
	}
	set := vfs.SetStatOptions{Mask: unix.STATX_MODE | unix.STATX_ATIME | unix.STATX_MTIME, Mode: st.Mode & 0o7777, Atime: st.Atime, Mtime: st.Mtime}
	if err := u.SetStat(ctx, &set); err != nil {
		return fail(err)
	}
	pu.SetStat(ctx, &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME, Atime: pst.Atime, Mtime: pst.Mtime})
	return u, nil
}

// copyData copies a regular file's data from l to u.
func copyData(ctx vfs.Context, l, u vfs.Inode) error {
	src, err := l.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer src.Release(ctx)
	dst, err := u.Open(ctx, vfs.VirtualDentry{}, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer dst.Release(ctx)
	buf := make([]byte, copyBufSize)
	for off := int64(0); ; {
		n, err := src.PRead(ctx, buf, off)
		if n > 0 {
			if _, _, werr := dst.PWrite(ctx, buf[:n], off, false); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}
