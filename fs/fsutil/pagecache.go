// Package fsutil holds helpers shared by filesystem implementations: a
// sparse page cache kept in the memory file, which makes file data
// mappable and coherent between read/write and mmap.
package fsutil

import (
	"cmp"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// MemoryFile is the part of *memfile.MemoryFile that file data needs.
// Tests substitute an in-process implementation.
type MemoryFile interface {
	Allocate(length uint64) (memfile.Range, error)
	// AllocateUnzeroed is Allocate for a caller that overwrites every
	// byte before anyone else sees the pages.
	AllocateUnzeroed(length uint64) (memfile.Range, error)
	IncRef(fr memfile.Range)
	DecRef(fr memfile.Range)
	Slice(fr memfile.Range) []byte
}

// FillFunc fills dst (one page, zeroed) with the backing data at file
// offset off, for read-through caches. It returns an error only for I/O
// failures; short data leaves zeros.
type FillFunc func(dst []byte, off int64) error

// PageCache is a sparse set of pages of one file, each a page of the memory
// file on which the cache holds a reference. A missing page reads as zeros
// (tmpfs holes) or is filled on demand by Fill (read-through caches).
type PageCache struct {
	mf   MemoryFile
	fill FillFunc
	// faults is the file's fault history.
	faults memmap.FaultHistory

	// acct, if set, is charged for every page the cache allocates and
	// credited for every page it drops (tmpfs size limits; holes.go).
	acct Accounter

	// mu protects pages and size.
	mu    sync.Mutex
	pages map[uint64]memfile.Range // page index -> memory-file page
	size  int64
	// unwritten are pages allocated by Fallocate and not written since:
	// lseek's SEEK_DATA/SEEK_HOLE see them as holes, as Linux's shmem.
	unwritten map[uint64]struct{}
}

// NewPageCache returns an empty cache; fill may be nil.
func NewPageCache(mf MemoryFile, fill FillFunc) *PageCache {
	return &PageCache{mf: mf, fill: fill, pages: make(map[uint64]memfile.Range)}
}

// Size returns the file size the cache knows.
func (c *PageCache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// SetSizeNoTruncate records the file size without discarding pages (for
// read-through caches whose size comes from the backing file).
func (c *PageCache) SetSizeNoTruncate(size int64) {
	c.mu.Lock()
	c.size = size
	c.mu.Unlock()
}

// Blocks returns the number of cached pages, in 512-byte units.
func (c *PageCache) Blocks() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(len(c.pages)) * (usermem.PageSize / 512)
}

// pageLocked returns page idx, allocating (and filling) it if create.
func (c *PageCache) pageLocked(idx uint64, create bool) (memfile.Range, bool, error) {
	if fr, ok := c.pages[idx]; ok {
		return fr, true, nil
	}
	if !create {
		return memfile.Range{}, false, nil
	}
	if c.acct != nil && !c.acct.Charge(1) {
		return memfile.Range{}, false, unix.ENOSPC
	}
	fr, err := c.allocPageLocked(idx)
	if err != nil {
		c.uncharge(1)
		return memfile.Range{}, false, err
	}
	return fr, true, nil
}

// allocPageLocked allocates page idx, which the cache does not hold, and
// fills it; the caller has charged the accounter for it.
func (c *PageCache) allocPageLocked(idx uint64) (memfile.Range, error) {
	fr, err := c.mf.Allocate(usermem.PageSize)
	if err != nil {
		return memfile.Range{}, unix.ENOMEM
	}
	if c.fill != nil {
		if err := c.fill(c.mf.Slice(fr), int64(idx*usermem.PageSize)); err != nil {
			c.mf.DecRef(fr)
			return memfile.Range{}, err
		}
	}
	c.pages[idx] = fr
	return fr, nil
}

// ReadAt copies file data at off into dst, stopping at the file size.
func (c *PageCache) ReadAt(dst []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off >= c.size {
		return 0, nil
	}
	if rem := c.size - off; int64(len(dst)) > rem {
		dst = dst[:rem]
	}
	done := 0
	for done < len(dst) {
		pos := uint64(off) + uint64(done)
		idx, in := pos/usermem.PageSize, pos%usermem.PageSize
		n := min(len(dst)-done, int(usermem.PageSize-in))
		fr, ok, err := c.pageLocked(idx, c.fill != nil)
		if err != nil {
			return done, err
		}
		if ok {
			copy(dst[done:done+n], c.mf.Slice(fr)[in:])
		} else {
			clear(dst[done : done+n])
		}
		done += n
	}
	return done, nil
}

// WriteAt copies src into the file at off, growing it as needed.
func (c *PageCache) WriteAt(src []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeAtLocked(src, off)
}

// Append writes src at the end of the file and returns the bytes written
// and the new end.
func (c *PageCache) Append(src []byte) (int, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.writeAtLocked(src, c.size)
	return n, c.size, err
}

func (c *PageCache) writeAtLocked(src []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	end := off + int64(len(src))
	if end < off {
		return 0, unix.EFBIG
	}
	done := 0
	for done < len(src) {
		pos := uint64(off) + uint64(done)
		idx, in := pos/usermem.PageSize, pos%usermem.PageSize
		n := min(len(src)-done, int(usermem.PageSize-in))
		fr, _, err := c.pageLocked(idx, true)
		if c.unwritten != nil {
			delete(c.unwritten, idx)
		}
		if err != nil {
			if done == 0 {
				return 0, err
			}
			break
		}
		copy(c.mf.Slice(fr)[in:], src[done:done+n])
		done += n
	}
	if e := off + int64(done); e > c.size {
		c.size = e
	}
	return done, nil
}

// Truncate sets the size, dropping pages past it and zeroing the tail of
// the last partial page.
func (c *PageCache) Truncate(size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Not only a shrink: truncating to the size drops the pages
	// fallocate(FALLOC_FL_KEEP_SIZE) left past it, as Linux's shmem does
	// for any new size not above the old one.
	if size <= c.size {
		first := (uint64(size) + usermem.PageSize - 1) / usermem.PageSize
		var drop []memfile.Range
		c.eachHeldLocked(first, ^uint64(0), func(idx uint64, fr memfile.Range) {
			drop = append(drop, fr)
			delete(c.pages, idx)
			delete(c.unwritten, idx)
		})
		c.dropAll(drop)
		if in := uint64(size) % usermem.PageSize; in != 0 {
			if fr, ok := c.pages[uint64(size)/usermem.PageSize]; ok {
				clear(c.mf.Slice(fr)[in:])
			}
		}
	}
	c.size = size
}

// Translate implements memmap.Mappable.Translate, one page at a time.
func (c *PageCache) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off >= uint64(c.size) {
		return memfile.Range{}, memmap.ErrBeyondEOF
	}
	fr, _, err := c.pageLocked(off/usermem.PageSize, true)
	if err != nil {
		return memfile.Range{}, err
	}
	if c.unwritten != nil {
		delete(c.unwritten, off/usermem.PageSize)
	}
	c.mf.IncRef(fr)
	return fr, nil
}

// Release drops every page.
func (c *PageCache) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	drop := make([]memfile.Range, 0, len(c.pages))
	for _, fr := range c.pages {
		drop = append(drop, fr)
	}
	clear(c.pages)
	clear(c.unwritten)
	c.dropAll(drop)
	c.size = 0
}

// eachHeldLocked calls fn for each page in [first, last) the cache holds,
// walking the range or the map, whichever is shorter. fn may delete the
// page from c.pages.
func (c *PageCache) eachHeldLocked(first, last uint64, fn func(idx uint64, fr memfile.Range)) {
	if last-first < uint64(len(c.pages)) {
		for idx := first; idx < last; idx++ {
			if fr, ok := c.pages[idx]; ok {
				fn(idx, fr)
			}
		}
		return
	}
	for idx, fr := range c.pages {
		if idx >= first && idx < last {
			fn(idx, fr)
		}
	}
}

// dropAll releases the cache's references on the pages frs, which it no
// longer holds, and credits the accounter for them. The pages are released
// in runs of neighbours in the memory file: page by page, in the map's
// order, a 4 GiB file took 40 s to truncate (each freed page a host hole
// punch and a sorted insert into the memory file's free lists), where pages
// a fallocate or a sequential write allocated one after the other are a
// few runs.
func (c *PageCache) dropAll(frs []memfile.Range) {
	if len(frs) == 0 {
		return
	}
	slices.SortFunc(frs, func(a, b memfile.Range) int { return cmp.Compare(a.Start, b.Start) })
	run := frs[0]
	for _, fr := range frs[1:] {
		if fr.Start == run.End {
			run.End = fr.End
			continue
		}
		c.mf.DecRef(run)
		run = fr
	}
	c.mf.DecRef(run)
	c.uncharge(int64(len(frs)))
}

var (
	_ memmap.Mappable           = (*PageCache)(nil)
	_ memmap.FaultHistoryHolder = (*PageCache)(nil)
)

// FaultHistory implements memmap.FaultHistoryHolder.
func (c *PageCache) FaultHistory() *memmap.FaultHistory { return &c.faults }
