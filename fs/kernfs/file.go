package kernfs

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// openFile is an open regular file of a tree.
type openFile[P any] struct {
	vfs.FileDescriptionDefaultImpl
	n *Inode[P]

	// mu protects data and valid; it is held while the content is
	// generated.
	mu    sync.Mutex
	data  []byte
	valid bool
}

func (f *openFile[P]) Release(vfs.Context) {}

// Stat implements vfs.FileDescriptionImpl.Stat: the file of a gone object
// gives ESRCH.
func (f *openFile[P]) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := f.n.Stat(ctx)
	if err == unix.ENOENT {
		err = unix.ESRCH
	}
	return st, err
}

// PRead implements vfs.FileDescriptionImpl.PRead: a read at offset 0
// regenerates the content, later ones continue in the same snapshot.
func (f *openFile[P]) PRead(ctx vfs.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		off = 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if off == 0 || !f.valid {
		if f.n.gone() {
			return 0, unix.ESRCH
		}
		data, err := f.n.File.Gen(ctx, f.n)
		if err != nil {
			return 0, err
		}
		f.data, f.valid = data, true
	}
	if off >= int64(len(f.data)) {
		return 0, nil
	}
	return copy(dst, f.data[off:]), nil
}

// PWrite implements vfs.FileDescriptionImpl.PWrite.
func (f *openFile[P]) PWrite(ctx vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if f.n.File.Write == nil {
		return 0, off, unix.EINVAL
	}
	if f.n.gone() {
		return 0, off, unix.ESRCH
	}
	if err := f.n.File.Write(ctx, f.n, src); err != nil {
		return 0, off, err
	}
	return len(src), off + int64(len(src)), nil
}

// Seek implements vfs.FileDescriptionImpl.Seek: as seq_file, SEEK_SET and
// SEEK_CUR only, unless files have a size (Options.FileSize): then as a
// regular file of that size, as sysfs does (Linux: kernfs_fop_llseek).
func (f *openFile[P]) Seek(_ vfs.Context, cur, offset int64, whence int) (int64, error) {
	if size := f.n.fs.opts.FileSize; size != 0 {
		return vfs.GenericSeek(cur, offset, whence, int64(size))
	}
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		offset += cur
	default:
		return 0, unix.EINVAL
	}
	if offset < 0 {
		return 0, unix.EINVAL
	}
	return offset, nil
}

// dirFile is an open directory of a tree.
type dirFile[P any] struct {
	vfs.DirectoryFileDefaultImpl
	n *Inode[P]
}

func (f *dirFile[P]) Release(vfs.Context) {}

func (f *dirFile[P]) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := f.n.Stat(ctx)
	if err == unix.ENOENT {
		err = unix.ESRCH
	}
	return st, err
}

// Getdents implements vfs.FileDescriptionImpl.Getdents. Offsets 0 and 1
// are "." and ".."; the children follow at their keys (plus 2).
func (f *dirFile[P]) Getdents(ctx vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	n := f.n
	if n.gone() {
		return unix.ENOENT
	}
	if off == 0 {
		if !cb(&vfs.Dirent{Name: ".", Ino: n.ino, Type: unix.DT_DIR, NextOff: 1}) {
			return nil
		}
		off = 1
	}
	if off == 1 {
		if !cb(&vfs.Dirent{Name: "..", Ino: n.parentIno, Type: unix.DT_DIR, NextOff: 2}) {
			return nil
		}
		off = 2
	}
	ents, err := n.Dir.Entries(ctx, n)
	if err != nil {
		return err
	}
	i := sort.Search(len(ents), func(i int) bool { return ents[i].Key+2 >= off })
	for ; i < len(ents); i++ {
		e := ents[i]
		d := vfs.Dirent{Name: e.Name, Ino: e.Node.ino, Type: vfs.DirentType(e.Node.mode), NextOff: e.Key + 3}
		if !cb(&d) {
			return nil
		}
	}
	return nil
}
