package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// DefaultNOFILE is the initial descriptor limit (RLIMIT_NOFILE's soft
// default on Linux).
const DefaultNOFILE = 1024

// maxFDLimit is the ceiling of RLIMIT_NOFILE (Linux's nr_open default).
const maxFDLimit = 1 << 20

// FDFlags are per-descriptor flags.
type FDFlags struct {
	CloseOnExec bool
}

type fdEntry struct {
	file  *FileDescription
	flags FDFlags
}

// FDTable is a process' descriptor table. Threads created with CLONE_FILES
// share one (IncRef); fork copies it (Fork).
type FDTable struct {
	refs atomic.Int64

	// mu protects everything below.
	mu sync.Mutex
	// files is indexed by descriptor; nil file means free.
	files []fdEntry
	// next is a lower bound of the lowest free descriptor.
	next int32
	// limit is RLIMIT_NOFILE: descriptors must be below it.
	limit int32
}

// NewFDTable returns an empty table with one reference.
func NewFDTable() *FDTable {
	t := &FDTable{limit: DefaultNOFILE}
	t.refs.Store(1)
	return t
}

// IncRef takes a reference (CLONE_FILES).
func (t *FDTable) IncRef() { t.refs.Add(1) }

// DecRef drops a reference; the last one closes every descriptor.
func (t *FDTable) DecRef(ctx Context) {
	if t.refs.Add(-1) == 0 {
		t.CloseAll(ctx)
	}
}

// SetLimit sets the RLIMIT_NOFILE bound (existing descriptors above it
// stay open, as on Linux).
func (t *FDTable) SetLimit(n uint64) {
	if n > maxFDLimit {
		n = maxFDLimit
	}
	t.mu.Lock()
	t.limit = int32(n)
	t.mu.Unlock()
}

// Limit returns the RLIMIT_NOFILE bound.
func (t *FDTable) Limit() int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limit
}

// Get returns a new reference to the file at fd and its flags, or nil.
func (t *FDTable) Get(fd int32) (*FileDescription, FDFlags) {
	t.mu.Lock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		t.mu.Unlock()
		return nil, FDFlags{}
	}
	e := t.files[fd]
	e.file.IncRef()
	t.mu.Unlock()
	return e.file, e.flags
}

// Install puts file (taking a new reference) at the lowest free descriptor
// >= minFD and returns it; EMFILE if that is not below the limit.
func (t *FDTable) Install(file *FileDescription, flags FDFlags, minFD int32) (int32, error) {
	fds, err := t.InstallMany([]*FileDescription{file}, flags, minFD)
	if err != nil {
		return -1, err
	}
	return fds[0], nil
}

// InstallMany installs several files at the lowest free descriptors (all
// or none), as pipe(2) needs.
func (t *FDTable) InstallMany(files []*FileDescription, flags FDFlags, minFD int32) ([]int32, error) {
	if minFD < 0 {
		return nil, unix.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if minFD >= t.limit {
		return nil, unix.EINVAL
	}
	fds := make([]int32, 0, len(files))
	fd := minFD
	if fd < t.next {
		fd = t.next
	}
	for len(fds) < len(files) {
		for int(fd) < len(t.files) && t.files[fd].file != nil {
			fd++
		}
		if fd >= t.limit {
			return nil, unix.EMFILE
		}
		fds = append(fds, fd)
		fd++
	}
	for i, f := range files {
		t.setLocked(fds[i], f, flags)
		f.IncRef()
	}
	if minFD <= t.next && len(fds) > 0 && fds[0] == t.next {
		t.next = fds[len(fds)-1] + 1
	}
	return fds, nil
}

func (t *FDTable) setLocked(fd int32, f *FileDescription, flags FDFlags) {
	if int(fd) >= len(t.files) {
		n := 2 * len(t.files)
		if n < 8 {
			n = 8
		}
		for n <= int(fd) {
			n *= 2
		}
		nf := make([]fdEntry, n)
		copy(nf, t.files)
		t.files = nf
	}
	t.files[fd] = fdEntry{file: f, flags: flags}
}

// InstallAt puts file (taking a new reference) at fd, as dup2/dup3: a
// file already there is closed (after the table is updated). EBADF if fd
// is not below the limit.
func (t *FDTable) InstallAt(ctx Context, fd int32, file *FileDescription, flags FDFlags) error {
	t.mu.Lock()
	if fd < 0 || fd >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	var old *FileDescription
	if int(fd) < len(t.files) {
		old = t.files[fd].file
	}
	file.IncRef()
	t.setLocked(fd, file, flags)
	t.mu.Unlock()
	if old != nil {
		t.closeFile(ctx, old)
	}
	return nil
}

// Remove clears fd and returns its file (whose reference passes to the
// caller), or nil if fd was not open.
func (t *FDTable) Remove(fd int32) *FileDescription {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return nil
	}
	f := t.files[fd].file
	t.files[fd] = fdEntry{}
	if fd < t.next {
		t.next = fd
	}
	return f
}

// closeFile drops the table's reference on f, which the table no longer
// holds, releasing the POSIX locks the table owns on f's file and the
// table's directory notifications as Linux's filp_close does, and then
// tells a CloseWatcher.
func (t *FDTable) closeFile(ctx Context, f *FileDescription) {
	t.releasePOSIXLocks(f)
	if fl, ok := f.async.Load().(AsyncFlusher); ok {
		fl.FlushAsync(t)
	}
	w, watches := f.impl.(CloseWatcher)
	f.DecRef(ctx)
	if watches {
		w.DescriptorClosed(ctx)
	}
}

// CloseWatcher is implemented by FileDescriptionImpls that act at every
// close of a descriptor that refers to them, not only when the last
// reference goes (as Linux's filp_close calls ->flush): a Unix socket
// runs its family's collector, since the close may leave a socket that
// only messages in flight refer to. DescriptorClosed is called after the
// table's reference is dropped, so the file may have been released.
type CloseWatcher interface {
	DescriptorClosed(ctx Context)
}

// Close implements close(2).
func (t *FDTable) Close(ctx Context, fd int32) error {
	f := t.Remove(fd)
	if f == nil {
		return unix.EBADF
	}
	t.closeFile(ctx, f)
	return nil
}

// SetFlags changes fd's flags (EBADF if it is not open).
func (t *FDTable) SetFlags(fd int32, flags FDFlags) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return unix.EBADF
	}
	t.files[fd].flags = flags
	return nil
}

// CloseRange implements close_range(2) for [first, last]; with
// cloexecOnly it sets FD_CLOEXEC instead of closing.
func (t *FDTable) CloseRange(ctx Context, first, last uint32, cloexecOnly bool) {
	var closed []*FileDescription
	t.mu.Lock()
	for fd := int64(first); fd <= int64(last) && fd < int64(len(t.files)); fd++ {
		e := &t.files[fd]
		if e.file == nil {
			continue
		}
		if cloexecOnly {
			e.flags.CloseOnExec = true
			continue
		}
		closed = append(closed, e.file)
		*e = fdEntry{}
		if int32(fd) < t.next {
			t.next = int32(fd)
		}
	}
	t.mu.Unlock()
	for _, f := range closed {
		t.closeFile(ctx, f)
	}
}

// Fork returns a copy of the table (new references on every file) with one
// reference, for fork(2) without CLONE_FILES.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{files: make([]fdEntry, len(t.files)), next: t.next, limit: t.limit}
	n.refs.Store(1)
	copy(n.files, t.files)
	for _, e := range n.files {
		if e.file != nil {
			e.file.IncRef()
		}
	}
	return n
}

// CloseOnExec closes every descriptor marked close-on-exec, for execve.
func (t *FDTable) CloseOnExec(ctx Context) {
	var closed []*FileDescription
	t.mu.Lock()
	for fd := range t.files {
		e := &t.files[fd]
		if e.file != nil && e.flags.CloseOnExec {
			closed = append(closed, e.file)
			*e = fdEntry{}
			if int32(fd) < t.next {
				t.next = int32(fd)
			}
		}
	}
	t.mu.Unlock()
	for _, f := range closed {
		t.closeFile(ctx, f)
	}
}

// CloseAll closes every descriptor (at exit).
func (t *FDTable) CloseAll(ctx Context) {
	t.mu.Lock()
	files := t.files
	t.files, t.next = nil, 0
	t.mu.Unlock()
	for _, e := range files {
		if e.file != nil {
			t.closeFile(ctx, e.file)
		}
	}
}

// Len returns one more than the highest open descriptor (for /proc and
// tests).
func (t *FDTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.files)
	for n > 0 && t.files[n-1].file == nil {
		n--
	}
	return n
}
