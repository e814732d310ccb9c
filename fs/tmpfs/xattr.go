package tmpfs

import (
	"sort"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// GetXattr implements vfs.XattrInode.
func (i *inode) GetXattr(_ vfs.Context, name string) ([]byte, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	v, ok := i.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return v, nil
}

// SetXattr implements vfs.XattrInode.
func (i *inode) SetXattr(_ vfs.Context, name string, value []byte, flags int) error {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	_, ok := i.xattrs[name]
	if ok && flags&unix.XATTR_CREATE != 0 {
		return unix.EEXIST
	}
	if !ok && flags&unix.XATTR_REPLACE != 0 {
		return unix.ENODATA
	}
	if i.xattrs == nil {
		i.xattrs = make(map[string][]byte)
	}
	i.xattrs[name] = append([]byte(nil), value...)
	i.ctime = vfs.Now()
	return nil
}

// ListXattr implements vfs.XattrInode, in name order.
func (i *inode) ListXattr(vfs.Context) ([]string, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	names := make([]string, 0, len(i.xattrs))
	for n := range i.xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// RemoveXattr implements vfs.XattrInode.
func (i *inode) RemoveXattr(_ vfs.Context, name string) error {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if _, ok := i.xattrs[name]; !ok {
		return unix.ENODATA
	}
	delete(i.xattrs, name)
	i.ctime = vfs.Now()
	return nil
}

// Exchange implements vfs.Exchanger (renameat2 RENAME_EXCHANGE).
func (i *inode) Exchange(_ vfs.Context, oldName string, a vfs.Inode, newParent vfs.Inode, newName string, b vfs.Inode) error {
	np, ok := newParent.(*inode)
	if !ok || np.fs != i.fs {
		return unix.EXDEV
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	da, ok1 := i.byName[oldName]
	db, ok2 := np.byName[newName]
	if !ok1 || !ok2 || da.inode != a || db.inode != b {
		return unix.ENOENT
	}
	ai, bi := da.inode, db.inode
	da.inode, db.inode = bi, ai
	if np != i {
		if ai.byName != nil {
			ai.parent = np
			i.nlink--
			np.nlink++
		}
		if bi.byName != nil {
			bi.parent = i
			np.nlink--
			i.nlink++
		}
	}
	now := vfs.Now()
	i.mtime, i.ctime, np.mtime, np.ctime = now, now, now, now
	ai.ctime, bi.ctime = now, now
	return nil
}
