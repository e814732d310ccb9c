package gofer

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// pageCache holds pages of one gofer file in the memory file, for mmap
// (see the package comment for how it stays coherent with read and
// write). The file size is the fileState's.
//
// Why a copy rather than the host file's own pages: the platform maps
// ranges of the sentry's memory file into address spaces, nothing else,
// and the sentry never maps host files. fsutil.PageCache is the
// read-through/tmpfs cache; this one also knows which pages a shared
// writable mapping may have changed (dirty) and writes them back.
type pageCache struct {
	mf fsutil.MemoryFile
	// rfd is a readable host descriptor of the file (owned by the
	// fileState).
	rfd int

	// mu protects pages and dirty.
	mu    sync.Mutex
	pages map[uint64]memfile.Range
	// dirty are pages handed out for writing through a shared mapping.
	// They stay dirty while the file has open descriptions (a mapping
	// holds one and may store again without a fault).
	dirty map[uint64]struct{}
}

// fileReader is the memory file's in-kernel copy from a host file
// (memfile.MemoryFile.ReadFrom; test fakes lack it): it fills a run of
// pages without the sentry touching them.
type fileReader interface {
	ReadFrom(fr memfile.Range, src int, off int64) (int, error)
}

func newPageCache(mf fsutil.MemoryFile, rfd int) *pageCache {
	return &pageCache{mf: mf, rfd: rfd, pages: make(map[uint64]memfile.Range), dirty: make(map[uint64]struct{})}
}

// pageLocked returns page idx, reading it from the host if absent. c.mu
// is held.
func (c *pageCache) pageLocked(idx uint64) (memfile.Range, error) {
	if fr, ok := c.pages[idx]; ok {
		return fr, nil
	}
	return c.readRunLocked(idx, 1)
}

// readRunLocked reads the n absent pages from idx on from the host into
// one new range of the memory file, with one host copy: a fault-around
// window of a program's text then costs one host call, and becomes one
// pma and one mapping, rather than one of each per page. The copy is the
// memory file's in-kernel one (fileReader) where it has it, else a pread
// through the sentry's mapping (README.md, "Filling the page cache"). It
// returns the range; each page of it is cached with its own reference.
// c.mu is held.
func (c *pageCache) readRunLocked(idx, n uint64) (memfile.Range, error) {
	// Every byte is overwritten: by the read, or cleared past EOF.
	fr, err := c.mf.AllocateUnzeroed(n * usermem.PageSize)
	if err != nil {
		return memfile.Range{}, unix.ENOMEM
	}
	dst := c.mf.Slice(fr)
	off := int64(idx * usermem.PageSize)
	done := 0
	if rf, ok := c.mf.(fileReader); ok {
		// Whatever it did not copy (a file system that cannot splice)
		// the pread below does.
		got, err := rf.ReadFrom(fr, c.rfd, off)
		done = got
		if err == nil {
			clear(dst[done:])
			done = len(dst)
		}
	}
	for done < len(dst) {
		got, err := unix.Pread(c.rfd, dst[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.mf.DecRef(fr)
			return memfile.Range{}, unix.EIO
		}
		if got == 0 {
			clear(dst[done:])
			break
		}
		done += got
	}
	for i := uint64(0); i < n; i++ {
		s := fr.Start + i*usermem.PageSize
		c.pages[idx+i] = memfile.Range{Start: s, End: s + usermem.PageSize}
	}
	return fr, nil
}

// readAt copies file data at off into dst, up to size.
func (c *pageCache) readAt(dst []byte, off, size int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off >= size {
		return 0, nil
	}
	if rem := size - off; int64(len(dst)) > rem {
		dst = dst[:rem]
	}
	done := 0
	for done < len(dst) {
		pos := uint64(off) + uint64(done)
		idx, in := pos/usermem.PageSize, pos%usermem.PageSize
		fr, err := c.pageLocked(idx)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		done += copy(dst[done:], c.mf.Slice(fr)[in:])
	}
	return done, nil
}

// wroteLocked copies src, just written to the host at off, into the
// pages it covers that are cached (absent ones read it from the host
// when needed). c.mu is held.
func (c *pageCache) wroteLocked(src []byte, off int64) {
	for done := 0; done < len(src); {
		pos := uint64(off) + uint64(done)
		idx, in := pos/usermem.PageSize, pos%usermem.PageSize
		n := min(len(src)-done, int(usermem.PageSize-in))
		if fr, ok := c.pages[idx]; ok {
			copy(c.mf.Slice(fr)[in:], src[done:done+n])
		}
		done += n
	}
}

// reloadLocked reads every cached page again from the host (after the
// host file's contents changed under the cache, e.g. a punched hole); the
// pages stay the same memory-file pages, so mappings see the new data.
// c.mu is held.
func (c *pageCache) reloadLocked() {
	for idx, fr := range c.pages {
		dst := c.mf.Slice(fr)
		off := int64(idx * usermem.PageSize)
		done := 0
		for done < len(dst) {
			n, err := unix.Pread(c.rfd, dst[done:], off+int64(done))
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				break
			}
			done += n
		}
		clear(dst[done:])
	}
}

// truncateLocked drops the pages past size and zeroes the tail of the
// last partial one, as the host file now reads. c.mu is held.
func (c *pageCache) truncateLocked(size int64) {
	first := (uint64(size) + usermem.PageSize - 1) / usermem.PageSize
	for idx, fr := range c.pages {
		if idx >= first {
			c.mf.DecRef(fr)
			delete(c.pages, idx)
			delete(c.dirty, idx)
		}
	}
	if in := uint64(size) % usermem.PageSize; in != 0 {
		if fr, ok := c.pages[uint64(size)/usermem.PageSize]; ok {
			clear(c.mf.Slice(fr)[in:])
		}
	}
}

// translate implements memmap.Mappable.Translate for a file of the given
// size: from the page at off, up to maxLen bytes (at least a page) and
// the file's last page, either the cached pages that follow each other in
// the memory file, or the absent pages, read in one run. Pages are marked
// dirty if the mapping may store to them.
func (c *pageCache) translate(off, maxLen uint64, mayWrite bool, size int64) (memfile.Range, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off >= uint64(size) {
		return memfile.Range{}, memmap.ErrBeyondEOF
	}
	idx := off / usermem.PageSize
	end := (uint64(size) + usermem.PageSize - 1) / usermem.PageSize
	if want := max(maxLen/usermem.PageSize, 1); end-idx > want {
		end = idx + want
	}
	fr, ok := c.pages[idx]
	if ok {
		for i := idx + 1; i < end; i++ {
			next, ok := c.pages[i]
			if !ok || next.Start != fr.End {
				break
			}
			fr.End = next.End
		}
	} else {
		n := uint64(1)
		for idx+n < end {
			if _, ok := c.pages[idx+n]; ok {
				break
			}
			n++
		}
		var err error
		if fr, err = c.readRunLocked(idx, n); err != nil {
			return memfile.Range{}, err
		}
	}
	if mayWrite {
		for i := idx; i < idx+fr.Length()/usermem.PageSize; i++ {
			c.dirty[i] = struct{}{}
		}
	}
	c.mf.IncRef(fr)
	return fr, nil
}

// writeBack writes the dirty pages to the host file (up to its size),
// forgetting them if clean is set (no description, hence no mapping, is
// left). st.wmu is held.
func (c *pageCache) writeBack(st *fileState, clean bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirty) == 0 {
		return nil
	}
	st.mu.Lock()
	fd, size := st.rwFD, st.attr.Size
	st.mu.Unlock()
	if fd < 0 {
		// Nothing was opened for writing, so nothing could be
		// mapped shared and writable.
		return nil
	}
	var firstErr error
	for idx := range c.dirty {
		off := int64(idx * usermem.PageSize)
		n := min(int64(usermem.PageSize), size-off)
		if n > 0 {
			page := c.mf.Slice(c.pages[idx])[:n]
			if _, err := pwriteFull(fd, page, off); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if clean {
			delete(c.dirty, idx)
		}
	}
	return firstErr
}

// release drops every page.
func (c *pageCache) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for idx, fr := range c.pages {
		c.mf.DecRef(fr)
		delete(c.pages, idx)
	}
	clear(c.dirty)
}

// pwriteFull writes all of b at off on the host descriptor fd, unless an
// error stops it.
func pwriteFull(fd int, b []byte, off int64) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Pwrite(fd, b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, unix.EIO
		}
		done += n
	}
	return done, nil
}
