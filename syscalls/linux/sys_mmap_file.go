package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// A file mapping's MMapOpts.File is its description, through which
// MADV_REMOVE punches holes.
var _ mm.HolePuncher = (*vfs.FileDescription)(nil)

// configureFileMMap fills the file part of an mmap request for descriptor
// fd: the Mappable (ENODEV if the file has none), the permission ceiling
// from the file's access mode (EACCES as Linux), the name shown in
// /proc/[pid]/maps, and a Hold that keeps the file open while mapped.
func configureFileMMap(t *kernel.Task, fd int32, opts *mm.MMapOpts) error {
	f, _, err := getFile(t, fd)
	if err != nil {
		return err
	}
	defer f.DecRef(t)
	if f.IsOPath() {
		return unix.EBADF
	}
	if !f.IsReadable() {
		return unix.EACCES
	}
	m := f.Mappable()
	if m == nil {
		return unix.ENODEV
	}
	if !opts.Private {
		if !f.IsWritable() {
			if opts.Perms.Write {
				return unix.EACCES
			}
			opts.MaxPerms.Write = false
		} else if f.StatusFlags()&unix.O_APPEND != 0 && opts.Perms.Write {
			return unix.EACCES
		}
	}
	opts.Mappable = m
	if vd := f.VirtualDentry(); vd.Ok() && vd.Mount().NoExec() {
		// As Linux: PROT_EXEC of a file on a noexec mount is EPERM,
		// and a later mprotect(PROT_EXEC) is refused.
		if opts.Perms.Execute {
			return unix.EPERM
		}
		opts.MaxPerms.Execute = false
	}
	if vd := f.VirtualDentry(); vd.Ok() {
		root := t.FSContext().Root()
		opts.Name = t.Kernel().VFS.PathnameWithin(root, vd)
		root.DecRef()
	}
	opts.File = f
	opts.Hold = func(inc bool) {
		if inc {
			f.IncRef()
		} else {
			f.DecRef(t)
		}
	}
	return sealMMap(t, opts)
}
