package proc

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// /proc/[pid]/mem: the process' memory, read and written at offsets that
// are addresses, the way debuggers use it. Like Linux, it reaches the
// address space the process had when the file was opened, ignores page
// protections (as ptrace's PEEK/POKE do), and an unmapped address is EIO.

// memFile is an open /proc/[pid]/mem.
type memFile struct {
	vfs.FileDescriptionDefaultImpl
	n  *inode
	mm *mm.MemoryManager
}

// openMem opens the file on the address space the process has now.
func openMem(_ vfs.Context, n *inode, _ uint32) (vfs.FileDescriptionImpl, error) {
	t := n.Data.task()
	if t == nil {
		return nil, unix.ESRCH
	}
	r, alive := t.Resources()
	if !alive || r.MM == nil || !r.MM.TryIncUsers() {
		return nil, unix.ESRCH
	}
	return &memFile{n: n, mm: r.MM}, nil
}

// Release implements vfs.FileDescriptionImpl.
func (f *memFile) Release(vfs.Context) { f.mm.Release() }

// Stat implements vfs.FileDescriptionImpl.
func (f *memFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.n.Stat(ctx) }

// PRead implements vfs.FileDescriptionImpl: what is mapped from off on;
// nothing mapped there is EIO.
func (f *memFile) PRead(_ vfs.Context, dst []byte, off int64) (int, error) {
	n, err := f.mm.CopyInForce(uint64(off), dst)
	if n == 0 && err != nil {
		return 0, unix.EIO
	}
	return n, nil
}

// PWrite implements vfs.FileDescriptionImpl, through the protections.
func (f *memFile) PWrite(_ vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	n, err := f.mm.CopyOutForce(uint64(off), src)
	if n == 0 && err != nil {
		return 0, off, unix.EIO
	}
	return n, off + int64(n), nil
}

// Seek implements vfs.FileDescriptionImpl: offsets are addresses, so any
// value is accepted; SEEK_END has no meaning (EINVAL), as Linux's
// mem_lseek.
func (f *memFile) Seek(_ vfs.Context, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
		return offset, nil
	case unix.SEEK_CUR:
		return cur + offset, nil
	}
	return 0, unix.EINVAL
}

// memMayOpen checks ptrace-style access for every open, writes included
// (Linux: mem_open's PTRACE_MODE_ATTACH).
func memMayOpen(ctx vfs.Context, n *inode, _ uint32) error {
	return mayPtrace(ctx, &n.Data)
}
