package fsutil

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Accounter is charged for the pages a PageCache allocates, so that a
// filesystem can bound its memory (tmpfs's size=). Charge(n) reserves n
// pages and reports false when that would exceed the limit; Uncharge
// returns pages. Both are called with the cache's lock held and must not
// call back into it.
type Accounter interface {
	Charge(pages int64) bool
	Uncharge(pages int64)
}

// SetAccounter makes a charged for the cache's pages from now on. Call it
// before the cache holds any page.
func (c *PageCache) SetAccounter(a Accounter) {
	c.mu.Lock()
	c.acct = a
	c.mu.Unlock()
}

func (c *PageCache) uncharge(n int64) {
	if c.acct != nil {
		c.acct.Uncharge(n)
	}
}

// pageSpan returns the page indices [first, last) of the pages wholly or
// partly inside [off, off+length).
func pageSpan(off, length int64) (uint64, uint64) {
	return uint64(off) / usermem.PageSize, (uint64(off+length) + usermem.PageSize - 1) / usermem.PageSize
}

// Fallocate allocates the pages backing [off, off+length) (fallocate
// mode 0 and FALLOC_FL_KEEP_SIZE): later writes there cannot fail with
// ENOSPC. Unless keepSize, the file grows to off+length. On failure the
// pages it allocated are dropped again and the size is unchanged.
//
// The pages missing from the range are charged to the accounter at once,
// before any is allocated, as Linux's tmpfs checks its size= limit: a range
// past the limit fails with ENOSPC at once, instead of after allocating
// page by page, under the cache's lock, as much as the limit allows (a
// random fallocate of 2^47 bytes held the lock, and the task, for 6 s).
func (c *PageCache) Fallocate(off, length int64, keepSize bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	first, last := pageSpan(off, length)
	missing := int64(last - first)
	// Pages an earlier fallocate left unwritten are initialized by this
	// one and read as data from then on, as in Linux's shmem_fallocate
	// ("lest undo on failure cancel our earlier guarantee"): SEEK_DATA
	// finds them.
	var earlier []uint64
	c.eachHeldLocked(first, last, func(idx uint64, _ memfile.Range) {
		missing--
		if _, ok := c.unwritten[idx]; ok {
			earlier = append(earlier, idx)
		}
	})
	if missing > 0 && c.acct != nil && !c.acct.Charge(missing) {
		return unix.ENOSPC
	}
	var added []uint64
	for idx := first; idx < last; idx++ {
		if _, ok := c.pages[idx]; ok {
			continue
		}
		if _, err := c.allocPageLocked(idx); err != nil {
			drop := make([]memfile.Range, 0, len(added))
			for _, a := range added {
				drop = append(drop, c.pages[a])
				delete(c.pages, a)
			}
			c.dropAll(drop) // credits the accounter for these
			c.uncharge(missing - int64(len(added)))
			return err
		}
		added = append(added, idx)
	}
	for _, idx := range earlier {
		delete(c.unwritten, idx)
	}
	if len(added) > 0 && c.unwritten == nil {
		c.unwritten = make(map[uint64]struct{})
	}
	for _, a := range added {
		c.unwritten[a] = struct{}{}
	}
	if end := off + length; !keepSize && end > c.size {
		c.size = end
	}
	return nil
}

// PunchHole makes [off, off+length) read as zeros: whole pages inside it
// are freed, the partial pages at its ends are zeroed. The size does not
// change.
func (c *PageCache) PunchHole(off, length int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := off + length
	zero := func(from, to int64) {
		idx := uint64(from) / usermem.PageSize
		if fr, ok := c.pages[idx]; ok {
			in := uint64(from) % usermem.PageSize
			clear(c.mf.Slice(fr)[in : in+uint64(to-from)])
		}
	}
	firstWhole := (uint64(off) + usermem.PageSize - 1) / usermem.PageSize
	lastWhole := uint64(end) / usermem.PageSize
	if firstWhole >= lastWhole {
		// Within one page or across one page boundary without a whole page.
		for from := off; from < end; {
			to := min(end, int64(usermem.PageRoundDown(uint64(from))+usermem.PageSize))
			zero(from, to)
			from = to
		}
		return
	}
	if head := int64(firstWhole * usermem.PageSize); off < head {
		zero(off, head)
	}
	if tail := int64(lastWhole * usermem.PageSize); tail < end {
		zero(tail, end)
	}
	var drop []memfile.Range
	c.eachHeldLocked(firstWhole, lastWhole, func(idx uint64, fr memfile.Range) {
		drop = append(drop, fr)
		delete(c.pages, idx)
		delete(c.unwritten, idx)
	})
	c.dropAll(drop)
}

// SeekData implements lseek(SEEK_DATA) at page granularity: the first
// offset at or after off inside an allocated page, below the size; ENXIO
// if there is none.
func (c *PageCache) SeekData(off int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off < 0 || off >= c.size {
		return 0, unix.ENXIO
	}
	best := uint64(1<<64 - 1)
	idx := uint64(off) / usermem.PageSize
	if c.isData(idx) {
		return off, nil
	}
	for i := range c.pages {
		if i > idx && i < best && c.isData(i) {
			best = i
		}
	}
	if best == 1<<64-1 || int64(best*usermem.PageSize) >= c.size {
		return 0, unix.ENXIO
	}
	return int64(best * usermem.PageSize), nil
}

// SeekHole implements lseek(SEEK_HOLE): the first offset at or after off
// inside no allocated page, or the size; ENXIO if off is at or past the
// size.
func (c *PageCache) SeekHole(off int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off < 0 || off >= c.size {
		return 0, unix.ENXIO
	}
	idx := uint64(off) / usermem.PageSize
	for c.isData(idx) {
		idx++
	}
	h := max(int64(idx*usermem.PageSize), off)
	return min(h, c.size), nil
}

// isData reports whether page idx holds data (allocated and written).
func (c *PageCache) isData(idx uint64) bool {
	if _, ok := c.pages[idx]; !ok {
		return false
	}
	_, unwritten := c.unwritten[idx]
	return !unwritten
}
