package memfile

import (
	"fmt"
	"io"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

const (
	// reserveSize is the size of the sentry's own mapping of the memory file,
	// and so the largest size the file may grow to. The mapping is
	// MAP_NORESERVE and sparse: it costs address space only.
	reserveSize = 1 << 40

	// growChunk is the granularity in which the file is extended.
	growChunk = 64 << 20

	// dirtyMax bounds the freed pages kept with their host memory (see
	// MemoryFile.dirty); a memory limit lowers it to dirtyLimitShare of
	// the limit.
	dirtyMax        = 8 << 20
	dirtyLimitShare = 16
)

// MemoryFile is the sandbox's memfd-backed memory file.
//
// The file is mapped once, MAP_SHARED, at a fixed reservation in the sentry,
// so Slice is a bounds check and a slice expression. Pages are handed out by
// a first-fit allocator over a sorted list of free extents; every page
// carries a reference count, and a page whose count drops to zero either has
// its host memory released (FALLOC_FL_PUNCH_HOLE) before it becomes reusable,
// so that it reads as zero, or, up to dirtyMax bytes, is kept as it is for
// the next allocation that overwrites it (see dirty). Allocate always returns
// zeroed memory.
//
// All methods are safe for concurrent use.
type MemoryFile struct {
	fd int

	// data is the sentry's mapping of the whole reservation. Only the first
	// size bytes are backed by the file; touching data past size raises
	// SIGBUS, so Slice is only valid for ranges the caller holds a
	// reference on. Immutable after New (until Close).
	data []byte

	// mu protects everything below. Lock order: mu is a leaf lock; no other
	// lock is taken while it is held, and no host syscall except ftruncate
	// (file growth) is made under it.
	mu sync.Mutex

	// size is the file size in bytes, a multiple of growChunk.
	size uint64

	// refs[i] is the reference count of page i of the file.
	refs []uint32

	// free is the sorted, coalesced list of extents that are free and whose
	// host memory has been released.
	free []Range

	// dirty is the sorted, coalesced list of free extents whose host
	// memory was kept: they still hold what their last owner wrote.
	// Releasing a freed page costs a fallocate, a TLB shoot-down of the
	// sentry's mapping on every CPU it ran on (an IPI each in a VM), and,
	// at its next use, a fault in the sentry and the kernel's zeroing;
	// a fork that exits at once frees and reallocates a few dozen pages.
	// AllocateUnzeroed hands dirty extents to callers that overwrite
	// every byte (a copy-on-write copy), and Allocate zeroes them itself
	// (a page it zeroes is one the kernel would have had to, and a
	// mapping of it can be populated: AllocateCommitted), except a
	// multi-page extent not all resident, which it releases first.
	// dirtyBytes is their total, at most
	// dirtyCap (dirtyMax, or less under a limit: SetLimit); frees past it
	// are released.
	dirty                []Range
	dirtyBytes, dirtyCap uint64

	// allocated is the number of bytes with a non-zero reference count.
	allocated uint64

	// kept is the part of allocated whose owners freed it but keep it
	// for reuse (ReserveKept), reserved up to dirtyCap (a limit lowered
	// since may leave it above until the owners release it).
	kept uint64

	// closed is set by Close.
	closed bool

	// limit, if non-zero, is the most bytes allocated may reach (the
	// container's memory limit for application memory). Allocate fails
	// with ENOMEM past it.
	limit uint64

	// seekMu serialises the users of the memfd's file position
	// (ReadFrom). A leaf lock, never held with mu.
	seekMu sync.Mutex

	// oom receives a token (never blocking) whenever Allocate fails for
	// want of memory: the kernel's OOM killer waits on it. Immutable.
	oom chan struct{}
}

// New creates the memory file. name is shown in /proc/self/fd of the
// sentry (as "memfd:name").
func New(name string) (*MemoryFile, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	data, err := unix.Mmap(fd, 0, reserveSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mapping the memory file: %w", err)
	}
	return &MemoryFile{fd: fd, data: data, oom: make(chan struct{}, 1), dirtyCap: dirtyMax}, nil
}

// FD returns the host descriptor of the memfd, for AddressSpace.MapFile.
func (f *MemoryFile) FD() int { return f.fd }

// Allocate returns a zeroed, page-aligned range of length bytes (a multiple
// of the page size) with a reference count of one on each page. The caller
// owns that reference and releases it with DecRef.
func (f *MemoryFile) Allocate(length uint64) (Range, error) {
	fr, _, err := f.AllocateCommitted(length)
	return fr, err
}

// AllocateCommitted is Allocate that also reports whether every page of
// the range has host memory behind it already: freed pages, kept (see
// MemoryFile.dirty) and zeroed by the sentry. Mapping such a range
// populated (platform.Mapping.Populate) costs the host only its page
// tables, where the application's first touch of each page would
// otherwise be a host fault that allocates and zeroes it; so the memory
// manager populates a fault's fresh anonymous window when it is committed.
//
// A dirty range is reused only if all of it is resident (mincore(2)): a
// range an earlier owner touched sparsely is released instead, because
// zeroing its holes through the sentry's view would give them host memory
// no one may touch again.
func (f *MemoryFile) AllocateCommitted(length uint64) (fr Range, committed bool, err error) {
	fr, dirty, err := f.allocate(length, true)
	if err != nil || !dirty {
		return fr, false, err
	}
	if length > usermem.PageSize && !f.resident(fr) {
		// Zero it the host's way; its resident pages are lost.
		f.release(fr)
		return fr, false, nil
	}
	clear(f.data[fr.Start:fr.End])
	return fr, true, nil
}

// resident reports whether every page of fr, which the caller holds,
// has host memory behind it. It is false if mincore fails.
func (f *MemoryFile) resident(fr Range) bool {
	var vec [512]byte
	for s := fr.Start; s < fr.End; {
		n := min((fr.End-s)/usermem.PageSize, uint64(len(vec)))
		e := s + n*usermem.PageSize
		if f.Resident(Range{s, e}, vec[:n]) != nil {
			return false
		}
		for _, r := range vec[:n] {
			if r == 0 {
				return false
			}
		}
		s = e
	}
	return true
}

// AllResident reports whether every page of fr, which the caller holds,
// has host memory behind it (one mincore(2) per 2 MiB).
func (f *MemoryFile) AllResident(fr Range) bool { return f.resident(fr) }

// ZeroResident zeroes fr, which the caller holds, if every page of it has
// host memory behind it, and reports whether it did; if not, fr is
// unchanged (zeroing its holes through the sentry's view would give them
// host memory, where a hole already reads as zero).
func (f *MemoryFile) ZeroResident(fr Range) bool {
	if !f.resident(fr) {
		return false
	}
	clear(f.data[fr.Start:fr.End])
	return true
}

// ReserveKept reserves n bytes of the budget for allocated pages that
// their owner no longer uses but keeps for its own reuse (the memory
// manager's parked ranges), and reports false if the budget is spent.
// The budget is the bound of the freed pages the file keeps itself
// (dirtyMax, or a sixteenth of a limit), so that memory a program freed
// stays a small share of what it may use. ReleaseKept returns the bytes.
func (f *MemoryFile) ReserveKept(n uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.kept+n > f.dirtyCap {
		return false
	}
	f.kept += n
	return true
}

// ReleaseKept returns n bytes that ReserveKept reserved.
func (f *MemoryFile) ReleaseKept(n uint64) {
	f.mu.Lock()
	f.kept -= n
	f.mu.Unlock()
}

// AllocateUnzeroed is Allocate for a caller that overwrites every byte of
// the range before the range is mapped or read by anyone: its contents are
// undefined (what a freed page held, which must never reach another
// application). It takes freed pages whose host memory was kept (see
// MemoryFile.dirty) before released ones: no fault, no zeroing.
func (f *MemoryFile) AllocateUnzeroed(length uint64) (Range, error) {
	fr, _, err := f.allocate(length, true)
	return fr, err
}

// allocate allocates length bytes, from the dirty extents if dirtyOK and
// one fits (then it reports dirty), else from the released ones.
func (f *MemoryFile) allocate(length uint64, dirtyOK bool) (fr Range, dirty bool, err error) {
	if length == 0 || !usermem.IsPageAligned(length) {
		return Range{}, false, unix.EINVAL
	}
	if length > reserveSize {
		return Range{}, false, unix.ENOMEM
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return Range{}, false, unix.EBADF
	}
	if f.limit != 0 && f.allocated-f.kept+length > f.limit {
		f.notifyOOM()
		return Range{}, false, unix.ENOMEM
	}
	if dirtyOK {
		if i := findFit(f.dirty, length); i >= 0 {
			fr = takeFront(&f.dirty, i, length)
			f.dirtyBytes -= length
			f.refOneLocked(fr)
			return fr, true, nil
		}
	}
	fr, err = f.allocateReleasedLocked(length)
	return fr, false, err
}

// allocateReleasedLocked allocates length bytes from the released extents,
// growing the file if needed.
func (f *MemoryFile) allocateReleasedLocked(length uint64) (Range, error) {
	i := findFit(f.free, length)
	if i < 0 {
		if err := f.growLocked(length); err != nil {
			f.notifyOOM()
			return Range{}, err
		}
		if i = findFit(f.free, length); i < 0 {
			f.notifyOOM()
			return Range{}, unix.ENOMEM
		}
	}
	fr := takeFront(&f.free, i, length)
	f.refOneLocked(fr)
	return fr, nil
}

// refOneLocked gives each page of fr, just taken off a free list, its
// first reference.
func (f *MemoryFile) refOneLocked(fr Range) {
	refs := f.refs[fr.Start/usermem.PageSize : fr.End/usermem.PageSize]
	for j := range refs {
		refs[j] = 1
	}
	f.allocated += fr.Length()
}

// takeFront removes the first length bytes of extent i of *list and
// returns them.
func takeFront(list *[]Range, i int, length uint64) Range {
	l := *list
	fr := Range{l[i].Start, l[i].Start + length}
	if l[i].End == fr.End {
		*list = append(l[:i], l[i+1:]...)
	} else {
		l[i].Start = fr.End
	}
	return fr
}

// notifyOOM tells the OOM killer, if it is not told already.
func (f *MemoryFile) notifyOOM() {
	select {
	case f.oom <- struct{}{}:
	default:
	}
}

// SetLimit sets the most bytes the file may have in use (0: no limit;
// Usage.InUse).
// Lowering it below the current allocation refuses new allocations until
// enough is freed; nothing already allocated is taken back. Freed pages
// kept with their host memory (dirty) are then at most a sixteenth of the
// limit: host memory the container's limit does not count.
func (f *MemoryFile) SetLimit(limit uint64) {
	f.mu.Lock()
	f.limit = limit
	f.dirtyCap = dirtyMax
	if limit != 0 {
		f.dirtyCap = min(dirtyMax, usermem.PageRoundDown(limit/dirtyLimitShare))
	}
	var drop []Range
	for f.dirtyBytes > f.dirtyCap {
		fr := f.dirty[len(f.dirty)-1]
		f.dirty = f.dirty[:len(f.dirty)-1]
		f.dirtyBytes -= fr.Length()
		drop = append(drop, fr)
	}
	f.mu.Unlock()
	f.releaseToFree(drop)
	if limit != 0 && f.Usage().InUse() > limit {
		f.notifyOOM()
	}
}

// Limit returns the limit SetLimit set (0: none).
func (f *MemoryFile) Limit() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limit
}

// OOM returns a channel that receives a value after Allocate failed for
// want of memory (the limit, or the host's): the OOM killer's wake-up.
// Failures while a value is pending are coalesced.
func (f *MemoryFile) OOM() <-chan struct{} { return f.oom }

// findFit returns the index of the first extent of list that can hold
// length bytes, or -1.
func findFit(list []Range, length uint64) int {
	for i := range list {
		if list[i].Length() >= length {
			return i
		}
	}
	return -1
}

// growLocked extends the file so that its free tail can hold length bytes.
func (f *MemoryFile) growLocked(length uint64) error {
	need := length
	if n := len(f.free); n > 0 && f.free[n-1].End == f.size {
		need -= f.free[n-1].Length()
	}
	newSize := (f.size + need + growChunk - 1) &^ (growChunk - 1)
	if newSize > reserveSize || newSize < f.size {
		return unix.ENOMEM
	}
	if err := unix.Ftruncate(f.fd, int64(newSize)); err != nil {
		return unix.ENOMEM
	}
	f.refs = append(f.refs, make([]uint32, (newSize-f.size)/usermem.PageSize)...)
	insertRange(&f.free, Range{f.size, newSize})
	f.size = newSize
	return nil
}

// insertRange adds fr to the sorted list *list (free or dirty), coalescing
// with neighbours.
func insertRange(list *[]Range, fr Range) {
	l := *list
	// Binary search for the first extent starting after fr.
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].Start < fr.Start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo
	mergePrev := i > 0 && l[i-1].End == fr.Start
	mergeNext := i < len(l) && l[i].Start == fr.End
	switch {
	case mergePrev && mergeNext:
		l[i-1].End = l[i].End
		l = append(l[:i], l[i+1:]...)
	case mergePrev:
		l[i-1].End = fr.End
	case mergeNext:
		l[i].Start = fr.Start
	default:
		l = append(l, Range{})
		copy(l[i+1:], l[i:])
		l[i] = fr
	}
	*list = l
}

// checkRangeLocked panics if fr is not a valid page-aligned range of the
// file: passing such a range is a bug in the sentry, not something an
// application can cause, and continuing would corrupt other memory.
func (f *MemoryFile) checkRangeLocked(fr Range) {
	if fr.Start > fr.End || fr.End > f.size || !usermem.IsPageAligned(fr.Start) || !usermem.IsPageAligned(fr.End) {
		panic(fmt.Sprintf("memfile: invalid range [%#x, %#x) (file size %#x)", fr.Start, fr.End, f.size))
	}
}

// IncRef takes a reference on every page of fr. The caller must already
// hold a reference on fr.
func (f *MemoryFile) IncRef(fr Range) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkRangeLocked(fr)
	refs := f.refs[fr.Start/usermem.PageSize : fr.End/usermem.PageSize]
	for j := range refs {
		if refs[j] == 0 {
			panic(fmt.Sprintf("memfile: IncRef of free page %#x", fr.Start+uint64(j)*usermem.PageSize))
		}
		refs[j]++
	}
}

// DecRef drops a reference on every page of fr; pages reaching zero are
// freed: kept as they are while the dirty pages stay within their cap,
// else their host memory is released, and they become allocatable.
func (f *MemoryFile) DecRef(fr Range) {
	var stack [4]Range
	freed := stack[:0]
	f.mu.Lock()
	f.checkRangeLocked(fr)
	first := fr.Start / usermem.PageSize
	refs := f.refs[first : fr.End/usermem.PageSize]
	runStart := -1
	for j := range refs {
		if refs[j] == 0 {
			f.mu.Unlock()
			panic(fmt.Sprintf("memfile: DecRef of free page %#x", fr.Start+uint64(j)*usermem.PageSize))
		}
		refs[j]--
		if refs[j] == 0 {
			if runStart < 0 {
				runStart = j
			}
			continue
		}
		if runStart >= 0 {
			freed = append(freed, Range{(first + uint64(runStart)) * usermem.PageSize, (first + uint64(j)) * usermem.PageSize})
			runStart = -1
		}
	}
	if runStart >= 0 {
		freed = append(freed, Range{(first + uint64(runStart)) * usermem.PageSize, fr.End})
	}
	n := 0
	for _, r := range freed {
		f.allocated -= r.Length()
		if f.dirtyBytes+r.Length() <= f.dirtyCap {
			insertRange(&f.dirty, r)
			f.dirtyBytes += r.Length()
			continue
		}
		freed[n] = r
		n++
	}
	f.mu.Unlock()
	f.releaseToFree(freed[:n])
}

// releaseToFree releases the host memory of the free ranges rs, which no
// list holds, and adds them to the free list.
func (f *MemoryFile) releaseToFree(rs []Range) {
	if len(rs) == 0 {
		return
	}
	// Nobody holds a reference on the freed pages and they are not yet on
	// the free list, so they can be released without the lock.
	for _, r := range rs {
		f.release(r)
	}
	f.mu.Lock()
	for _, r := range rs {
		insertRange(&f.free, r)
	}
	f.mu.Unlock()
}

// release returns the host memory behind fr, which must not be in use by
// anyone, and makes it read as zero.
func (f *MemoryFile) release(fr Range) {
	if err := unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(fr.Start), int64(fr.Length())); err != nil {
		// Should not happen on a memfd; fall back to zeroing so that
		// Allocate's zeroing guarantee still holds.
		clear(f.data[fr.Start:fr.End])
	}
}

// Slice returns the sentry's own view of fr. fr need not be page-aligned.
// The caller must hold a reference on the pages of fr for as long as it
// uses the slice. It returns nil for a range outside the file.
//
// Slice makes no syscall and does not allocate.
func (f *MemoryFile) Slice(fr Range) []byte {
	if fr.Start > fr.End || fr.End > reserveSize {
		return nil
	}
	return f.data[fr.Start:fr.End:fr.End]
}

// Decommit releases the host memory behind fr (it reads as zero afterwards)
// without changing reference counts. Used for MADV_DONTNEED/FREE. Every
// holder of a reference on fr sees the zeroes.
func (f *MemoryFile) Decommit(fr Range) error {
	return f.fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, fr)
}

// inFile reports whether fr is a page-aligned range of the file.
func (f *MemoryFile) inFile(fr Range) bool {
	if fr.Start > fr.End || !usermem.IsPageAligned(fr.Start) || !usermem.IsPageAligned(fr.End) {
		return false
	}
	f.mu.Lock()
	size := f.size
	f.mu.Unlock()
	return fr.End <= size
}

// fallocate runs fallocate(2) with mode on fr, which must lie in the file.
func (f *MemoryFile) fallocate(mode uint32, fr Range) error {
	if !f.inFile(fr) {
		return unix.EINVAL
	}
	if fr.Start == fr.End {
		return nil
	}
	return unix.Fallocate(f.fd, mode, int64(fr.Start), int64(fr.Length()))
}

// Commit gives the pages of fr host memory now, where the host would
// otherwise allocate it at the first touch (MAP_POPULATE). It faults them
// in through the sentry's view (MADV_POPULATE_WRITE) rather than
// fallocate(2)'s, which leaves shmem pages "not up to date": mincore(2)
// would not count them.
func (f *MemoryFile) Commit(fr Range) error {
	if !f.inFile(fr) {
		return unix.EINVAL
	}
	if fr.Start == fr.End {
		return nil
	}
	return unix.Madvise(f.data[fr.Start:fr.End], unix.MADV_POPULATE_WRITE)
}

// Resident fills vec (one byte per page of fr) with 1 for the pages that
// have host memory behind them and 0 for the others (holes never written,
// or decommitted), as mincore(2) reports them.
func (f *MemoryFile) Resident(fr Range, vec []byte) error {
	if !f.inFile(fr) || uint64(len(vec)) != fr.Length()/usermem.PageSize {
		return unix.EINVAL
	}
	if fr.Start == fr.End {
		return nil
	}
	b := f.data[fr.Start:fr.End]
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return e
	}
	for i := range vec {
		vec[i] &= 1
	}
	return nil
}

// IsExclusive reports whether every page of fr has a reference count of
// exactly one, i.e. the caller's reference is the only one. The memory
// manager uses it to take over a copy-on-write page instead of copying it.
// The answer stays valid as long as the caller does not share its reference.
func (f *MemoryFile) IsExclusive(fr Range) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkRangeLocked(fr)
	for _, r := range f.refs[fr.Start/usermem.PageSize : fr.End/usermem.PageSize] {
		if r != 1 {
			return false
		}
	}
	return true
}

// Usage describes how much of the memory file is in use.
type Usage struct {
	// Allocated is the number of bytes with a non-zero reference count.
	Allocated uint64
	// FileSize is the current size of the memory file.
	FileSize uint64
	// Dirty is the number of free bytes whose host memory is kept for
	// reuse (see MemoryFile.dirty).
	Dirty uint64
	// Kept is the part of Allocated that its owners no longer use but
	// keep for their own reuse (ReserveKept).
	Kept uint64
}

// InUse is the memory the sandbox's programs use: Allocated but Kept, which
// they freed. The limit (SetLimit) and the memory figures the sandbox
// reports count this; like the freed pages the file keeps (Dirty), Kept
// is host memory a limit does not count, a small share of it
// (ReserveKept).
func (u Usage) InUse() uint64 { return u.Allocated - u.Kept }

// Usage returns the current usage figures. It makes no syscall.
func (f *MemoryFile) Usage() Usage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Usage{Allocated: f.allocated, FileSize: f.size, Dirty: f.dirtyBytes, Kept: f.kept}
}

// Committed returns the bytes of host memory really backing the file (pages
// that were touched and not released), from fstat.
func (f *MemoryFile) Committed() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, err
	}
	return uint64(st.Blocks) * 512, nil
}

// Close releases the memory file. No one may use it or any slice of it
// afterwards; address spaces that still map the memfd keep their pages.
func (f *MemoryFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	// f.data is left in place (Slice reads it without the lock); using a
	// slice after Close faults, as documented.
	err := unix.Munmap(f.data)
	if cerr := unix.Close(f.fd); err == nil {
		err = cerr
	}
	return err
}

// ReadFrom copies the host file src from offset off into fr, in the kernel
// (sendfile(2) from src's page cache into the memory file's pages): a page
// cache fill then costs neither a fault of the sentry's mapping per page
// nor a copy through it, about a third less than a pread into Slice(fr)
// on the hosts measured. It returns the number of bytes copied, fewer than
// fr.Length() only at the end of src; the rest of fr keeps what it held.
// An error may follow a partial copy (the count says how much), and the
// caller may then fall back to pread, e.g. for a file whose file system
// cannot splice (EINVAL). The caller must hold a reference on fr.
func (f *MemoryFile) ReadFrom(fr Range, src int, off int64) (int, error) {
	if fr.Start > fr.End || fr.End > reserveSize || !usermem.IsPageAligned(fr.Start) || off < 0 {
		return 0, unix.EINVAL
	}
	// sendfile writes at the memfd's file position, shared by every
	// caller: seekMu keeps each caller's seek and writes together.
	f.seekMu.Lock()
	defer f.seekMu.Unlock()
	if _, err := unix.Seek(f.fd, int64(fr.Start), io.SeekStart); err != nil {
		return 0, err
	}
	done, want := 0, int(fr.Length())
	for done < want {
		o := off + int64(done)
		n, err := unix.Sendfile(f.fd, src, &o, want-done)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			break
		}
		done += n
	}
	return done, nil
}
