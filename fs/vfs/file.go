package vfs

import (
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memmap"
)

// SettableStatusFlags are the status flags F_SETFL may change. O_ASYNC
// is not among them: only a file that can send signals takes it, through
// SetAsyncFlag.
const SettableStatusFlags = unix.O_APPEND | unix.O_DIRECT | unix.O_NOATIME | unix.O_NONBLOCK

// FileDescriptionOptions describe a new FileDescription.
type FileDescriptionOptions struct {
	// Seekable files have an offset kept by the VFS; others (pipes,
	// ttys, sockets) give ESPIPE for lseek/pread/pwrite.
	Seekable bool
	// Offset is the initial offset of a seekable file.
	Offset int64
	// ImplOffset files are seekable but keep their offset in the impl,
	// not in the VFS: a donated host file shares its offset with the
	// host's open file description (the caller's shell may write to the
	// same file). Read and Write pass offset -1 to the impl, and Seek
	// passes cur == -1.
	ImplOffset bool
}

// FileDescription is an open file: what open(2) creates and descriptors
// refer to. It is reference counted; the last DecRef releases the impl.
type FileDescription struct {
	refs atomic.Int64
	impl FileDescriptionImpl
	// vd is the file's position in the tree; zero for anonymous files
	// (pipes, donated host files).
	vd         VirtualDentry
	seekable   bool
	implOffset bool
	opath      bool
	// flags holds the access mode and status flags.
	flags atomic.Uint32

	// offMu serialises offset-using operations (read, write, lseek,
	// getdents) and protects off.
	offMu sync.Mutex
	off   int64

	// hasLocks is set once the description took an OFD or flock lock, so
	// that its release looks for them.
	hasLocks atomic.Bool
	// anonLocks holds the locks of a file without a dentry (locks.go).
	anonLocks lockSpace

	// counted is how the file's open counts count the description
	// (lease.go); hasLease is set once it took a lease.
	counted  uint8
	hasLease atomic.Bool

	// hooksMu protects hooks, the ReleaseHooks (epoll registrations) to
	// run when the file is released; see waiter.go.
	hooksMu sync.Mutex
	hooks   map[ReleaseHook]struct{}

	// async is the kernel's signal-driven I/O state of the file (see
	// Async); nil until the application first uses it.
	async atomic.Value
}

// NewFileDescription returns a description with one reference. flags are
// the access mode and status flags (O_ACCMODE, O_APPEND, O_NONBLOCK, …;
// creation flags are dropped). It takes over the caller's reference on vd,
// which may be zero.
func NewFileDescription(impl FileDescriptionImpl, vd VirtualDentry, flags uint32, opts FileDescriptionOptions) *FileDescription {
	fd := &FileDescription{impl: impl, vd: vd, seekable: opts.Seekable || opts.ImplOffset, implOffset: opts.ImplOffset, off: opts.Offset}
	fd.refs.Store(1)
	vd.pin()
	fd.flags.Store(flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC))
	return fd
}

// IncRef takes a reference.
func (fd *FileDescription) IncRef() { fd.refs.Add(1) }

// ReadRefs returns how many references there are. It is only meaningful
// to a caller that rules out the ways new ones could be taken (the Unix
// socket collector: every reference to a socket it considers is held by
// a message queued under its lock).
func (fd *FileDescription) ReadRefs() int64 { return fd.refs.Load() }

// DecRef drops a reference; the last one releases the file.
func (fd *FileDescription) DecRef(ctx Context) {
	if fd.refs.Add(-1) == 0 {
		fd.releaseDescriptionLocks()
		fd.releaseOpen()
		if fd.fsnotifyActive() {
			fd.notifyClose()
		}
		fd.runReleaseHooks()
		if fd.impl != nil {
			fd.impl.Release(ctx)
		}
		fd.vd.unpin()
		fd.vd.DecRef()
	}
}

// Impl returns the filesystem's implementation.
func (fd *FileDescription) Impl() FileDescriptionImpl { return fd.impl }

// VirtualDentry returns the file's position in the tree (zero for anonymous
// files). The caller must not drop the returned reference.
func (fd *FileDescription) VirtualDentry() VirtualDentry { return fd.vd }

// StatusFlags returns the access mode and status flags (F_GETFL).
func (fd *FileDescription) StatusFlags() uint32 {
	f := fd.flags.Load()
	if fd.opath {
		f |= unix.O_PATH
	}
	return f
}

// SetStatusFlags implements F_SETFL: only SettableStatusFlags change.
func (fd *FileDescription) SetStatusFlags(flags uint32) {
	for {
		old := fd.flags.Load()
		n := old&^SettableStatusFlags | flags&SettableStatusFlags
		if fd.flags.CompareAndSwap(old, n) {
			return
		}
	}
}

// SetAsyncFlag sets or clears O_ASYNC, for the kernel's signal-driven
// I/O once the file's signals are on or off (Linux's fasync_helper).
func (fd *FileDescription) SetAsyncFlag(on bool) {
	for {
		old := fd.flags.Load()
		n := old &^ unix.O_ASYNC
		if on {
			n |= unix.O_ASYNC
		}
		if fd.flags.CompareAndSwap(old, n) {
			return
		}
	}
}

// IsOPath reports whether the file was opened with O_PATH.
func (fd *FileDescription) IsOPath() bool { return fd.opath }

// IsReadable reports whether the file was opened for reading.
func (fd *FileDescription) IsReadable() bool {
	return !fd.opath && fd.flags.Load()&unix.O_ACCMODE != unix.O_WRONLY
}

// IsWritable reports whether the file was opened for writing.
func (fd *FileDescription) IsWritable() bool {
	a := fd.flags.Load() & unix.O_ACCMODE
	return !fd.opath && (a == unix.O_WRONLY || a == unix.O_RDWR)
}

// Seekable reports whether the file has an offset.
func (fd *FileDescription) Seekable() bool { return fd.seekable }

// Read implements read(2) at the file offset.
func (fd *FileDescription) Read(ctx Context, dst []byte) (int, error) {
	if !fd.IsReadable() {
		return 0, unix.EBADF
	}
	var n int
	var err error
	if !fd.seekable || fd.implOffset {
		n, err = fd.impl.PRead(ctx, dst, -1)
	} else {
		fd.offMu.Lock()
		if int64(len(dst)) > math.MaxInt64-fd.off {
			fd.offMu.Unlock()
			return 0, unix.EINVAL
		}
		n, err = fd.impl.PRead(ctx, dst, fd.off)
		fd.off += int64(n)
		fd.offMu.Unlock()
	}
	if n > 0 && fd.fsnotifyActive() {
		fd.notify(unix.IN_ACCESS)
	}
	return n, err
}

// PRead implements pread(2).
func (fd *FileDescription) PRead(ctx Context, dst []byte, off int64) (int, error) {
	if !fd.IsReadable() {
		return 0, unix.EBADF
	}
	if !fd.seekable {
		return 0, unix.ESPIPE
	}
	if off < 0 || int64(len(dst)) > math.MaxInt64-off {
		return 0, unix.EINVAL
	}
	n, err := fd.impl.PRead(ctx, dst, off)
	if n > 0 && fd.fsnotifyActive() {
		fd.notify(unix.IN_ACCESS)
	}
	return n, err
}

// Write implements write(2) at the file offset (or the end, with
// O_APPEND).
func (fd *FileDescription) Write(ctx Context, src []byte) (int, error) {
	return fd.WriteAppend(ctx, src, fd.flags.Load()&unix.O_APPEND != 0)
}

// WriteAppend is Write with O_APPEND's effect chosen by the caller:
// pwritev2's RWF_APPEND and RWF_NOAPPEND.
func (fd *FileDescription) WriteAppend(ctx Context, src []byte, appendMode bool) (int, error) {
	if !fd.IsWritable() {
		return 0, unix.EBADF
	}
	var n int
	var err error
	if !fd.seekable || fd.implOffset {
		if len(src) != 0 {
			fd.killPrivOnWrite(ctx)
		}
		n, _, err = fd.impl.PWrite(ctx, src, -1, appendMode)
	} else {
		var end int64
		fd.offMu.Lock()
		if !appendMode && int64(len(src)) > math.MaxInt64-fd.off {
			fd.offMu.Unlock()
			return 0, unix.EINVAL
		}
		if len(src) != 0 {
			// The limit first: a refused write changes nothing.
			if src, err = fd.limitWrite(ctx, src, fd.off, appendMode); err != nil {
				fd.offMu.Unlock()
				return 0, err
			}
			fd.killPrivOnWrite(ctx)
		}
		n, end, err = fd.impl.PWrite(ctx, src, fd.off, appendMode)
		if n > 0 || appendMode && err == nil {
			fd.off = end
		}
		fd.offMu.Unlock()
	}
	if n > 0 && fd.fsnotifyActive() {
		fd.notify(unix.IN_MODIFY)
	}
	return n, err
}

// PWrite implements pwrite(2). As Linux, O_APPEND makes it append.
func (fd *FileDescription) PWrite(ctx Context, src []byte, off int64) (int, error) {
	return fd.PWriteAppend(ctx, src, off, fd.flags.Load()&unix.O_APPEND != 0)
}

// PWriteAppend is PWrite with O_APPEND's effect chosen by the caller
// (pwritev2's RWF_APPEND and RWF_NOAPPEND).
func (fd *FileDescription) PWriteAppend(ctx Context, src []byte, off int64, appendMode bool) (int, error) {
	if !fd.IsWritable() {
		return 0, unix.EBADF
	}
	if !fd.seekable {
		return 0, unix.ESPIPE
	}
	// As Linux's rw_verify_area: a range whose end overflows is EINVAL.
	if off < 0 || int64(len(src)) > math.MaxInt64-off {
		return 0, unix.EINVAL
	}
	if len(src) != 0 {
		var err error
		if src, err = fd.limitWrite(ctx, src, off, appendMode); err != nil {
			return 0, err
		}
		fd.killPrivOnWrite(ctx)
	}
	n, _, err := fd.impl.PWrite(ctx, src, off, appendMode)
	if n > 0 && fd.fsnotifyActive() {
		fd.notify(unix.IN_MODIFY)
	}
	return n, err
}

// FileSizeLimiter is implemented by contexts that have an RLIMIT_FSIZE (the
// kernel's tasks): a write to a regular file stops at the limit, and one
// that starts at or past it, a truncate past it or a fallocate that would
// grow the file past it fails with EFBIG after FileSizeExceeded (SIGXFSZ).
type FileSizeLimiter interface {
	// FileSizeLimit returns the limit in bytes (^uint64(0): none). It is
	// called for every write, so it must be cheap.
	FileSizeLimit() uint64
	// FileSizeExceeded is called before EFBIG is returned.
	FileSizeExceeded()
}

// fileSizeLimit returns ctx's RLIMIT_FSIZE, if it has one and it is finite.
func fileSizeLimit(ctx Context) (FileSizeLimiter, uint64, bool) {
	l, ok := ctx.(FileSizeLimiter)
	if !ok {
		return nil, 0, false
	}
	limit := l.FileSizeLimit()
	return l, limit, limit < math.MaxInt64
}

// limitWrite applies RLIMIT_FSIZE to a write of src at off (the file's
// size if appendMode), as Linux's generic_write_check_limits: only regular
// files, whose type it asks for only when there is a limit.
func (fd *FileDescription) limitWrite(ctx Context, src []byte, off int64, appendMode bool) ([]byte, error) {
	l, limit, ok := fileSizeLimit(ctx)
	if !ok {
		return src, nil
	}
	st, err := fd.impl.Stat(ctx)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return src, nil
	}
	if appendMode {
		off = int64(st.Size)
	}
	if uint64(off) >= limit {
		l.FileSizeExceeded()
		return nil, unix.EFBIG
	}
	if rem := limit - uint64(off); uint64(len(src)) > rem {
		src = src[:rem]
	}
	return src, nil
}

// checkNewSize is Linux's inode_newsize_ok for a regular file growing to
// newSize: EFBIG past ctx's RLIMIT_FSIZE, unless the file is that large
// already. size, the file's size, is asked for only past the limit.
func checkNewSize(ctx Context, newSize uint64, size func() (uint64, error)) error {
	l, limit, ok := fileSizeLimit(ctx)
	if !ok || newSize <= limit {
		return nil
	}
	cur, err := size()
	if err != nil {
		return err
	}
	if newSize > cur {
		l.FileSizeExceeded()
		return unix.EFBIG
	}
	return nil
}

// Seek implements lseek(2).
func (fd *FileDescription) Seek(ctx Context, offset int64, whence int) (int64, error) {
	if fd.opath {
		return 0, unix.EBADF
	}
	if !fd.seekable {
		return 0, unix.ESPIPE
	}
	if fd.implOffset {
		return fd.impl.Seek(ctx, -1, offset, whence)
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	n, err := fd.impl.Seek(ctx, fd.off, offset, whence)
	if err != nil {
		return 0, err
	}
	fd.off = n
	return n, nil
}

// Stat implements fstat(2).
func (fd *FileDescription) Stat(ctx Context) (Stat, error) {
	if fd.opath {
		return fd.vd.dentry.inode.Stat(ctx)
	}
	return fd.impl.Stat(ctx)
}

// Getdents calls cb for the directory's entries from the file offset on,
// advancing the offset past every entry cb accepts.
func (fd *FileDescription) Getdents(ctx Context, cb func(*Dirent) bool) error {
	if fd.opath {
		return unix.EBADF
	}
	if d := fd.vd.dentry; d != nil && d.IsDir() {
		// A removed directory lists nothing, not even . and ..
		// (Linux's iterate_dir and IS_DEADDIR).
		d.mu.Lock()
		dead := d.dead
		d.mu.Unlock()
		if dead {
			return unix.ENOENT
		}
	}
	fd.offMu.Lock()
	err := fd.impl.Getdents(ctx, fd.off, func(d *Dirent) bool {
		if !cb(d) {
			return false
		}
		fd.off = d.NextOff
		return true
	})
	fd.offMu.Unlock()
	if err == nil && fd.fsnotifyActive() {
		fd.notify(unix.IN_ACCESS)
	}
	return err
}

// Ioctl dispatches to the file.
func (fd *FileDescription) Ioctl(ctx Context, cmd uint32, arg uint64) (uintptr, error) {
	if fd.opath {
		return 0, unix.EBADF
	}
	return fd.impl.Ioctl(ctx, cmd, arg)
}

// Mappable returns the file's pages for mmap, or nil if it cannot be
// mapped (mmap then fails with ENODEV).
func (fd *FileDescription) Mappable() memmap.Mappable {
	if fd.opath {
		return nil
	}
	return fd.impl.Mappable()
}

// Sync implements fsync(2).
func (fd *FileDescription) Sync(ctx Context) error {
	if fd.opath {
		return unix.EBADF
	}
	return fd.impl.Sync(ctx)
}

// ReadAt reads len(p) bytes at off unless the file ends first, for the
// loader. It does not use or move the file offset.
func (fd *FileDescription) ReadAt(ctx Context, p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		n, err := fd.impl.PRead(ctx, p[total:], off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// Size returns the file's size in bytes.
func (fd *FileDescription) Size(ctx Context) (int64, error) {
	st, err := fd.Stat(ctx)
	if err != nil {
		return 0, err
	}
	return int64(st.Size), nil
}

// opathFile is the impl of an O_PATH description: it only names a file.
type opathFile struct {
	FileDescriptionDefaultImpl
}

func (opathFile) Release(Context)                                   {}
func (opathFile) Stat(Context) (Stat, error)                        { return Stat{}, unix.EBADF }
func (opathFile) Getdents(Context, int64, func(*Dirent) bool) error { return unix.EBADF }
