package overlay

import (
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// inode is one name of the overlay: the VFS keeps one per dentry (the
// dentry cache never forgets a name that exists), so the state of a name
// (copied up or not) lives here. Hard links share a node.
type inode struct {
	fs *Filesystem
	// ftype is the S_IFMT bits. Immutable.
	ftype uint32
	// OpenCounts counts the name's opens for leases.
	vfs.OpenCounts
	// lower is the lower layer's node (nil if the name exists only in the
	// upper layer, or for a directory whose upper is opaque). Immutable.
	lower vfs.Inode
	// node is the shared identity of a hard-linked lower file. Immutable.
	node *node

	// refs counts the dentries of this inode: one per name made by Lookup
	// or Create, plus one per hard link made by Link, which returns the
	// same inode so that the VFS sees one node (locks, inotify).
	refs atomic.Int32

	mu sync.Mutex
	// parent and name are where this name is (nil for the root). They
	// change on rename. Protected by mu.
	parent *inode
	name   string
	// upper is the upper layer's node: set once by creation or copy-up,
	// never changed afterwards. Protected by mu.
	upper vfs.Inode
	// opaque marks a directory whose lower directory is hidden. Protected
	// by mu.
	opaque bool
}

// upperInode returns the upper node (nil if not copied up).
func (i *inode) upperInode() vfs.Inode {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.upper
}

// cur returns the node that holds the name's current state: the upper
// one once copied up (or once another name of the same hard-linked file
// was), the lower one before.
func (i *inode) cur() vfs.Inode {
	if u := i.upperInode(); u != nil {
		return u
	}
	if n := i.node; n != nil {
		n.mu.Lock()
		u := n.upper
		n.mu.Unlock()
		if u != nil {
			return u
		}
	}
	return i.lower
}

// Perms implements vfs.Inode.Perms.
func (i *inode) Perms() (uint32, auth.KUID, auth.KGID) { return i.cur().Perms() }

// dirIno is a directory's stable inode number.
func (i *inode) dirIno(ctx vfs.Context) uint64 {
	if i.lower != nil {
		if st, err := i.lower.Stat(ctx); err == nil {
			return st.Ino
		}
	}
	if u := i.upperInode(); u != nil {
		if st, err := u.Stat(ctx); err == nil {
			return st.Ino | dirInoUpperBit
		}
	}
	return 0
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := i.cur().Stat(ctx)
	if err != nil {
		return st, err
	}
	if i.ftype == unix.S_IFDIR {
		st.Dev, st.Ino = i.fs.dev, i.dirIno(ctx)
	} else if n := i.node; n != nil {
		n.mu.Lock()
		if n.upper != nil {
			// The index's link is not a name; lower names not yet
			// linked up are.
			st.Nlink = st.Nlink - min(st.Nlink, 1) + n.lowerNlink - min(n.lowerNlink, n.gone)
		}
		n.mu.Unlock()
	}
	return st, nil
}

// SetStat implements vfs.Inode.SetStat: copy-up, then the upper node.
// Truncation to zero skips copying the data.
func (i *inode) SetStat(ctx vfs.Context, opts *vfs.SetStatOptions) error {
	if err := i.copyUp(ctx, opts.Mask&unix.STATX_SIZE != 0 && opts.Size == 0); err != nil {
		return err
	}
	return i.upperInode().SetStat(ctx, opts)
}

// Lookup implements vfs.Inode.Lookup: the upper directory first, then,
// unless a whiteout or an opaque directory hides it, the lower one.
func (i *inode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	return i.lookup(ctx, name, nil, nil)
}

// LookupOpen implements vfs.OpenLookuper: the lower layer's lookup of a
// name about to be opened gets the open's flags too (the gofer walks and
// opens it in one round trip); the upper layer's, in memory, does not need
// them.
func (i *inode) LookupOpen(ctx vfs.Context, name string, flags uint32) (vfs.Inode, error) {
	return i.lookup(ctx, name, &flags, nil)
}

// LookupAhead implements vfs.PathLookuper: the lower layer's lookup gets
// the names ahead too (the gofer walks them in the same round trip); the
// upper layer's, in memory, does not need them.
func (i *inode) LookupAhead(ctx vfs.Context, name string, ahead []string) (vfs.Inode, error) {
	return i.lookup(ctx, name, nil, ahead)
}

// lookup is Lookup, for an open with flags *open if open is not nil, or
// with the names ahead of name (vfs.PathLookuper).
func (i *inode) lookup(ctx vfs.Context, name string, open *uint32, ahead []string) (vfs.Inode, error) {
	if i.ftype != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	i.mu.Lock()
	u, opaque := i.upper, i.opaque
	i.mu.Unlock()
	var cu, cl vfs.Inode
	if u != nil {
		c, err := u.Lookup(ctx, name)
		switch {
		case err == nil && isWhiteout(c):
			c.Release()
			return nil, unix.ENOENT
		case err == nil:
			cu = c
		case err != unix.ENOENT:
			return nil, err
		}
	}
	childOpaque := false
	if cu != nil {
		if mode, _, _ := cu.Perms(); mode&unix.S_IFMT != unix.S_IFDIR {
			opaque = true // a non-directory hides whatever is below
		} else if isOpaque(cu) {
			opaque, childOpaque = true, true
		}
	}
	if i.lower != nil && !opaque {
		var c vfs.Inode
		var err error
		lo, openOK := i.lower.(vfs.OpenLookuper)
		pl, aheadOK := i.lower.(vfs.PathLookuper)
		switch {
		case openOK && open != nil:
			c, err = lo.LookupOpen(ctx, name, *open)
		case aheadOK && len(ahead) > 0:
			c, err = pl.LookupAhead(ctx, name, ahead)
		default:
			c, err = i.lower.Lookup(ctx, name)
		}
		switch {
		case err == nil:
			if mode, _, _ := c.Perms(); cu != nil && mode&unix.S_IFMT != unix.S_IFDIR {
				// An upper directory over a lower non-directory.
				c.Release()
			} else {
				cl = c
			}
		case err != unix.ENOENT:
			if cu != nil {
				cu.Release()
			}
			return nil, err
		}
	}
	if cu == nil && cl == nil {
		return nil, unix.ENOENT
	}
	child := newInode(&inode{fs: i.fs, parent: i, name: name, upper: cu, lower: cl, opaque: childOpaque})
	if cu != nil {
		mode, _, _ := cu.Perms()
		child.ftype = mode & unix.S_IFMT
	} else {
		mode, _, _ := cl.Perms()
		child.ftype = mode & unix.S_IFMT
		if child.ftype != unix.S_IFDIR {
			st, err := cl.Stat(ctx)
			if err != nil {
				cl.Release()
				return nil, err
			}
			if st.Nlink > 1 {
				child.node = i.fs.nodeFor(&st)
			}
		}
	}
	return child, nil
}

// Readlink implements vfs.Inode.Readlink.
func (i *inode) Readlink(ctx vfs.Context) (string, error) { return i.cur().Readlink(ctx) }

// newInode returns a node with one reference.
func newInode(i *inode) *inode {
	i.refs.Store(1)
	return i
}

// Release implements vfs.Inode.Release.
func (i *inode) Release() {
	if i.refs.Add(-1) != 0 {
		return
	}
	i.mu.Lock()
	u := i.upper
	i.upper = nil
	i.mu.Unlock()
	if u != nil {
		u.Release()
	}
	if i.lower != nil {
		i.lower.Release()
	}
}

// Open implements vfs.Inode.Open. Directories get a merged listing; a
// regular file opened read-only gets the description of the layer that
// holds it now (a lower one keeps reading the lower file after a later
// copy-up, as on Linux); opening for writing copies up first. FIFOs,
// sockets and devices are copied up (metadata only) and opened in the
// upper layer, which implements them.
func (i *inode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	switch i.ftype {
	case unix.S_IFDIR:
		return &dirFile{i: i}, nil
	case unix.S_IFREG:
		if flags&unix.O_ACCMODE == unix.O_RDONLY {
			return i.cur().Open(ctx, vd, flags)
		}
	}
	if err := i.copyUp(ctx, false); err != nil {
		return nil, err
	}
	return i.upperInode().Open(ctx, vd, flags)
}

// Create implements vfs.Inode.Create: in the upper directory, replacing a
// whiteout; a directory made over a whiteout is opaque.
func (i *inode) Create(ctx vfs.Context, name string, opts *vfs.CreateOptions) (vfs.Inode, error) {
	if err := i.copyUp(ctx, false); err != nil {
		return nil, err
	}
	u := i.upperInode()
	wh, err := i.removeWhiteout(u, name)
	if err != nil {
		return nil, err
	}
	c, err := u.Create(ctx, name, opts)
	if err != nil {
		if wh {
			makeWhiteout(u, name)
		}
		return nil, err
	}
	isDir := opts.Mode&unix.S_IFMT == unix.S_IFDIR
	if wh && isDir {
		if err := setOpaque(c); err != nil {
			u.Rmdir(ctx, name, c)
			c.Release()
			makeWhiteout(u, name)
			return nil, err
		}
	}
	return newInode(&inode{fs: i.fs, ftype: opts.Mode & unix.S_IFMT, parent: i, name: name, upper: c, opaque: wh && isDir}), nil
}

// CreateTmpfile implements vfs.TmpfileCreator (open with O_TMPFILE): the
// file lives in the upper layer.
func (i *inode) CreateTmpfile(ctx vfs.Context, opts *vfs.CreateOptions) (vfs.Inode, uint64, error) {
	if err := i.copyUp(ctx, false); err != nil {
		return nil, 0, err
	}
	tc, ok := i.upperInode().(vfs.TmpfileCreator)
	if !ok {
		return nil, 0, unix.EOPNOTSUPP
	}
	c, ino, err := tc.CreateTmpfile(ctx, opts)
	if err != nil {
		return nil, 0, err
	}
	return newInode(&inode{fs: i.fs, ftype: unix.S_IFREG, upper: c}), ino, nil
}

// Link implements vfs.Inode.Link: the target is copied up and linked in
// the upper layer.
func (i *inode) Link(ctx vfs.Context, name string, target vfs.Inode) (vfs.Inode, error) {
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return nil, unix.EXDEV
	}
	if err := t.copyUp(ctx, false); err != nil {
		return nil, err
	}
	if err := i.copyUp(ctx, false); err != nil {
		return nil, err
	}
	u := i.upperInode()
	wh, err := i.removeWhiteout(u, name)
	if err != nil {
		return nil, err
	}
	c, err := u.Link(ctx, name, t.upperInode())
	if err != nil {
		if wh {
			makeWhiteout(u, name)
		}
		return nil, err
	}
	// The new name's dentry shares t (and t's reference on the upper
	// node stands for both).
	c.Release()
	t.refs.Add(1)
	return t, nil
}

// Unlink implements vfs.Inode.Unlink: the upper name goes, and a whiteout
// hides the lower one.
func (i *inode) Unlink(ctx vfs.Context, name string, child vfs.Inode) error {
	c, ok := child.(*inode)
	if !ok {
		return unix.ENOENT
	}
	if err := i.copyUp(ctx, false); err != nil {
		return err
	}
	u := i.upperInode()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.upper != nil {
		if err := u.Unlink(ctx, name, c.upper); err != nil {
			return err
		}
	} else if c.node != nil {
		c.node.mu.Lock()
		c.node.gone++
		c.node.mu.Unlock()
	}
	if c.lower != nil || i.lowerHas(ctx, name) {
		return makeWhiteout(u, name)
	}
	return nil
}

// Rmdir implements vfs.Inode.Rmdir: the directory must be empty in the
// merged view; whiteouts inside it go with it.
func (i *inode) Rmdir(ctx vfs.Context, name string, child vfs.Inode) error {
	c, ok := child.(*inode)
	if !ok {
		return unix.ENOENT
	}
	ents, whs, err := c.readMerged(ctx)
	if err != nil {
		return err
	}
	if len(ents) != 0 {
		return unix.ENOTEMPTY
	}
	if err := i.copyUp(ctx, false); err != nil {
		return err
	}
	u := i.upperInode()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.upper != nil {
		if err := removeWhiteouts(c.upper, whs); err != nil {
			return err
		}
		if err := u.Rmdir(ctx, name, c.upper); err != nil {
			return err
		}
	}
	if c.lower != nil || i.lowerHas(ctx, name) {
		return makeWhiteout(u, name)
	}
	return nil
}

// Rename implements vfs.Inode.Rename. A directory with a lower layer
// cannot move (EXDEV, as Linux without redirect_dir); anything else is
// copied up and renamed in the upper layer, leaving a whiteout if the old
// name exists below.
func (i *inode) Rename(ctx vfs.Context, oldName string, child vfs.Inode, newParent vfs.Inode, newName string, replaced vfs.Inode) error {
	c, ok1 := child.(*inode)
	np, ok2 := newParent.(*inode)
	if !ok1 || !ok2 || np.fs != i.fs {
		return unix.EXDEV
	}
	if c.ftype == unix.S_IFDIR && c.lower != nil {
		return unix.EXDEV
	}
	var r *inode
	var rwhs []string
	if replaced != nil {
		if r, ok1 = replaced.(*inode); !ok1 {
			return unix.ENOENT
		}
		if r.ftype == unix.S_IFDIR {
			ents, whs, err := r.readMerged(ctx)
			if err != nil {
				return err
			}
			if len(ents) != 0 {
				return unix.ENOTEMPTY
			}
			rwhs = whs
		}
	}
	if err := i.copyUp(ctx, false); err != nil {
		return err
	}
	if err := np.copyUp(ctx, false); err != nil {
		return err
	}
	if err := c.copyUp(ctx, false); err != nil {
		return err
	}
	ou, nu := i.upperInode(), np.upperInode()
	// The upper node that newName names: the replaced one, or a whiteout.
	var ur vfs.Inode
	if r != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		ur = r.upper
		if ur != nil && r.ftype == unix.S_IFDIR {
			if err := removeWhiteouts(ur, rwhs); err != nil {
				return err
			}
		}
	}
	if ur == nil {
		if w, err := nu.Lookup(ctx, newName); err == nil {
			defer w.Release()
			if !isWhiteout(w) {
				return unix.EEXIST
			}
			ur = w
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ou.Rename(ctx, oldName, c.upper, nu, newName, ur); err != nil {
		return err
	}
	if r != nil && r.upper == nil && r.node != nil {
		r.node.mu.Lock()
		r.node.gone++
		r.node.mu.Unlock()
	}
	if c.ftype == unix.S_IFDIR && !c.opaque && np.lowerHas(ctx, newName) {
		// A directory moved over a lower one must not show its entries.
		if err := setOpaque(c.upper); err == nil {
			c.opaque = true
		}
	}
	c.parent, c.name = np, newName
	if c.lower != nil || i.lowerHas(ctx, oldName) {
		return makeWhiteout(ou, oldName)
	}
	return nil
}

// lowerHas reports whether name exists in i's lower directory and is not
// hidden by i being opaque.
func (i *inode) lowerHas(ctx vfs.Context, name string) bool {
	i.mu.Lock()
	opaque := i.opaque
	i.mu.Unlock()
	if i.lower == nil || opaque {
		return false
	}
	c, err := i.lower.Lookup(ctx, name)
	if err != nil {
		return false
	}
	c.Release()
	return true
}

// removeWhiteout removes a whiteout called name from the upper directory
// u and reports whether there was one. A name that is not a whiteout is
// EEXIST.
func (i *inode) removeWhiteout(u vfs.Inode, name string) (bool, error) {
	ctx := vfs.KernelContext{}
	c, err := u.Lookup(ctx, name)
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Release()
	if !isWhiteout(c) {
		return false, unix.EEXIST
	}
	return true, u.Unlink(ctx, name, c)
}

// makeWhiteout creates a whiteout called name in the upper directory u.
func makeWhiteout(u vfs.Inode, name string) error {
	c, err := u.Create(vfs.KernelContext{}, name, &vfs.CreateOptions{Mode: unix.S_IFCHR})
	if err != nil {
		return err
	}
	c.Release()
	return nil
}

// removeWhiteouts removes the whiteouts called names from the upper
// directory u (before u itself is removed or replaced).
func removeWhiteouts(u vfs.Inode, names []string) error {
	for _, n := range names {
		if _, err := (&inode{}).removeWhiteout(u, n); err != nil {
			return err
		}
	}
	return nil
}

// GetXattr implements vfs.XattrInode.
func (i *inode) GetXattr(ctx vfs.Context, name string) ([]byte, error) {
	if strings.HasPrefix(name, privateXattrPrefix) {
		return nil, unix.ENODATA
	}
	x, ok := i.cur().(vfs.XattrInode)
	if !ok {
		return nil, unix.EOPNOTSUPP
	}
	return x.GetXattr(ctx, name)
}

// SetXattr implements vfs.XattrInode: copy-up, then the upper node.
func (i *inode) SetXattr(ctx vfs.Context, name string, value []byte, flags int) error {
	if strings.HasPrefix(name, privateXattrPrefix) {
		return unix.EPERM
	}
	if err := i.copyUp(ctx, false); err != nil {
		return err
	}
	x, ok := i.upperInode().(vfs.XattrInode)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return x.SetXattr(ctx, name, value, flags)
}

// ListXattr implements vfs.XattrInode; the overlay's own attributes are
// hidden.
func (i *inode) ListXattr(ctx vfs.Context) ([]string, error) {
	x, ok := i.cur().(vfs.XattrInode)
	if !ok {
		return nil, nil
	}
	names, err := x.ListXattr(ctx)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, privateXattrPrefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// RemoveXattr implements vfs.XattrInode: copy-up, then the upper node.
func (i *inode) RemoveXattr(ctx vfs.Context, name string) error {
	if strings.HasPrefix(name, privateXattrPrefix) {
		return unix.ENODATA
	}
	if err := i.copyUp(ctx, false); err != nil {
		return err
	}
	x, ok := i.upperInode().(vfs.XattrInode)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return x.RemoveXattr(ctx, name)
}

// Exchange implements vfs.Exchanger (renameat2 RENAME_EXCHANGE): both
// are copied up and exchanged in the upper layer; both names stay, so no
// whiteout is needed. A directory with a lower layer cannot move (EXDEV).
func (i *inode) Exchange(ctx vfs.Context, oldName string, a vfs.Inode, newParent vfs.Inode, newName string, b vfs.Inode) error {
	ai, ok1 := a.(*inode)
	bi, ok2 := b.(*inode)
	np, ok3 := newParent.(*inode)
	if !ok1 || !ok2 || !ok3 || np.fs != i.fs {
		return unix.EXDEV
	}
	for _, x := range []*inode{ai, bi} {
		if x.ftype == unix.S_IFDIR && x.lower != nil {
			return unix.EXDEV
		}
	}
	for _, x := range []*inode{i, np, ai, bi} {
		if err := x.copyUp(ctx, false); err != nil {
			return err
		}
	}
	ex, ok := i.upperInode().(vfs.Exchanger)
	if !ok {
		return unix.EINVAL
	}
	if err := ex.Exchange(ctx, oldName, ai.upperInode(), np.upperInode(), newName, bi.upperInode()); err != nil {
		return err
	}
	for _, m := range []struct {
		x      *inode
		parent *inode
		name   string
	}{{ai, np, newName}, {bi, i, oldName}} {
		hide := m.x.ftype == unix.S_IFDIR && m.parent.lowerHas(ctx, m.name)
		m.x.mu.Lock()
		m.x.parent, m.x.name = m.parent, m.name
		if hide && !m.x.opaque && setOpaque(m.x.upper) == nil {
			m.x.opaque = true
		}
		m.x.mu.Unlock()
	}
	return nil
}
