package mm

import (
	"slices"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// vma is a mapping the application asked for.
type vma struct {
	start, end uint64

	perms    usermem.AccessType
	maxPerms usermem.AccessType

	private    bool // MAP_PRIVATE: writes go to private (COW) pages
	growsDown  bool // MAP_GROWSDOWN
	dontFork   bool // MADV_DONTFORK
	wipeOnFork bool // MADV_WIPEONFORK

	// mappable backs the vma, or is nil for private anonymous memory.
	// Shared anonymous memory is backed by a *sharedAnon.
	mappable memmap.Mappable
	// off is the file offset that start maps.
	off uint64
	// name is shown in /proc/[pid]/maps.
	name string
	// hold, if not nil, is called with true for every vma that starts
	// referring to mappable and with false when it stops.
	hold func(inc bool)
	// file is the open file mapped (MMapOpts.File), compared to tell
	// mergeable file vmas apart.
	file any

	// pmas is sorted by start; pmas do not overlap and lie in
	// [start, end).
	pmas []pma
}

// pma is a range of application addresses backed by a range of the memory
// file. A pma owns one reference on every page of fr.
type pma struct {
	start, end uint64
	fr         memfile.Range
	// cow is set if the pages may not be written in place: they are a
	// file's pages under a private mapping, or private pages shared with
	// another address space after Fork.
	cow bool
}

// fileRange returns the memory-file range behind [s, e), which must lie in
// p.
func (p *pma) fileRange(s, e uint64) memfile.Range {
	return memfile.Range{Start: p.fr.Start + (s - p.start), End: p.fr.Start + (e - p.start)}
}

// effective returns the permissions with which p is mapped in the
// AddressSpace.
func (v *vma) effective(p *pma) usermem.AccessType {
	at := v.perms.Effective()
	if p.cow {
		at.Write = false
	}
	return at
}

// allows reports whether the sentry may read (write == false) or write
// application memory in v. force is ptrace's FOLL_FORCE: reading needs only
// VM_MAYREAD, and writing is allowed to private mappings (through a private
// copy) even without PROT_WRITE.
func (v *vma) allows(write, force bool) bool {
	if write {
		return v.perms.Write || (force && v.private)
	}
	return v.perms.Effective().Read || (force && v.maxPerms.Read)
}

// isPrivateAnon reports whether v is private anonymous memory.
func (v *vma) isPrivateAnon() bool { return v.private && v.mappable == nil }

// pmaIndex returns the index of the first pma that ends after addr.
func (v *vma) pmaIndex(addr uint64) int {
	lo, hi := 0, len(v.pmas)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v.pmas[m].end <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// findPMA returns the pma containing addr, or nil.
func (v *vma) findPMA(addr uint64) *pma {
	i := v.pmaIndex(addr)
	if i < len(v.pmas) && v.pmas[i].start <= addr {
		return &v.pmas[i]
	}
	return nil
}

// splitPMAAt makes sure no pma straddles addr and returns the index of the
// first pma that starts at or after addr.
func (v *vma) splitPMAAt(addr uint64) int {
	i := v.pmaIndex(addr)
	if i < len(v.pmas) && v.pmas[i].start < addr {
		p := v.pmas[i]
		left, right := p, p
		left.end = addr
		left.fr.End = p.fr.Start + (addr - p.start)
		right.start = addr
		right.fr.Start = left.fr.End
		v.pmas[i] = left
		v.pmas = slices.Insert(v.pmas, i+1, right)
		return i + 1
	}
	return i
}

// insertPMA inserts p, which must lie in a gap of v.pmas.
func (v *vma) insertPMA(p pma) {
	v.pmas = slices.Insert(v.pmas, v.pmaIndex(p.start), p)
}

// removePMAsLocked drops the pmas in [start, end) and unmaps them from the
// AddressSpace. Their pages are released only once the host no longer maps
// them: other threads may be touching them, and a freed page can be given
// to another process at once.
func (mm *MemoryManager) removePMAsLocked(v *vma, start, end uint64) {
	i := v.splitPMAAt(start)
	j := v.splitPMAAt(end)
	if i == j {
		return
	}
	s, e := v.pmas[i].start, v.pmas[j-1].end
	mm.unmapAS(s, e)
	for k := i; k < j; k++ {
		mm.mf.DecRef(v.pmas[k].fr)
	}
	v.pmas = slices.Delete(v.pmas, i, j)
}

// zeroPMAsLocked makes the private anonymous memory of v in [start, end)
// read as zero and gives its host memory back (MADV_DONTNEED). Pages that
// this address space alone refers to keep their pma and their host
// mapping: their memory-file range is decommitted, so the host faults in
// a zero page on the next touch, without a platform round trip now (an
// unmap) or later (a fault). glibc does this to a thread's stack at every
// thread exit. Pages shared with another holder (a forked child's
// copy-on-write) are removed as removePMAsLocked does, since zeroing them
// in place would zero them for the other holder too. So are all pages
// under a memory limit: the limit counts the memory file's allocated
// pages, and a page zeroed in place stays allocated, so freeing memory
// with MADV_DONTNEED would not make room under the limit as it does on
// Linux.
func (mm *MemoryManager) zeroPMAsLocked(v *vma, start, end uint64) {
	if mm.mf.Limit() != 0 {
		mm.removePMAsLocked(v, start, end)
		return
	}
	for i := v.pmaIndex(start); i < len(v.pmas) && v.pmas[i].start < end; {
		p := v.pmas[i]
		s, e := max(p.start, start), min(p.end, end)
		fr := p.fileRange(s, e)
		if mm.mf.IsExclusive(fr) && mm.mf.Decommit(fr) == nil {
			i++
			continue
		}
		mm.removePMAsLocked(v, s, e)
		// The pmas from s on are gone, but one that started before s.
		i = v.pmaIndex(e)
	}
}

// vmaIndexLocked returns the index of the first vma that ends after addr.
func (mm *MemoryManager) vmaIndexLocked(addr uint64) int {
	lo, hi := 0, len(mm.vmas)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if mm.vmas[m].end <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// findVMALocked returns the vma containing addr, or nil.
func (mm *MemoryManager) findVMALocked(addr uint64) *vma {
	i := mm.vmaIndexLocked(addr)
	if i < len(mm.vmas) && mm.vmas[i].start <= addr {
		return mm.vmas[i]
	}
	return nil
}

// splitVMAAtLocked makes sure no vma straddles addr.
func (mm *MemoryManager) splitVMAAtLocked(addr uint64) {
	i := mm.vmaIndexLocked(addr)
	if i >= len(mm.vmas) || mm.vmas[i].start >= addr {
		return
	}
	v := mm.vmas[i]
	nv := new(vma)
	*nv = *v
	nv.start = addr
	nv.off = v.off + (addr - v.start)
	j := v.splitPMAAt(addr)
	nv.pmas = slices.Clone(v.pmas[j:])
	v.pmas = v.pmas[:j:j]
	v.end = addr
	mm.holdVMA(nv, true)
	mm.vmas = slices.Insert(mm.vmas, i+1, nv)
}

// holdVMA counts v as a reference to its file, or as one no longer: it
// calls v.hold and, for a file whose pages can vanish under a mapping
// (memmap.Tracked), adds mm to its Mappings or removes it, so that a
// truncation finds mm (Invalidate). mm.mu is held.
func (mm *MemoryManager) holdVMA(v *vma, inc bool) {
	if v.hold != nil {
		v.hold(inc)
	}
	if t, ok := v.mappable.(memmap.Tracked); ok {
		if inc {
			t.Mappings().Add(mm)
		} else {
			t.Mappings().Remove(mm)
		}
	}
}

// Invalidate implements memmap.MappingSpace.Invalidate: the pmas of m's
// file offsets [start, end) go, with their host mappings, so that the
// next access translates again (and past a truncated end gets SIGBUS).
// Without evenCopies only shared vmas are looked at: a private vma's pmas
// there may be copies (after a write, or shared with a fork child) that
// must stay, and its pages of the file are left as they are (a punched
// hole then reads as the old bytes through a private mapping that read
// them before, where Linux reads zeros).
func (mm *MemoryManager) Invalidate(m memmap.Mappable, start, end uint64, evenCopies bool) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for _, v := range mm.vmas {
		if v.mappable != m || (v.private && !evenCopies) || len(v.pmas) == 0 {
			continue
		}
		vend := v.off + (v.end - v.start)
		if vend <= start || v.off >= end {
			continue
		}
		s, e := v.start+(max(v.off, start)-v.off), v.end
		if end < vend {
			e = v.start + (end - v.off)
		}
		mm.layoutGen++
		mm.removePMAsLocked(v, s, e)
	}
}

var _ memmap.MappingSpace = (*MemoryManager)(nil)

// isolateLocked splits vmas so that [start, end) is covered by whole vmas,
// and returns the index range of the vmas inside it.
func (mm *MemoryManager) isolateLocked(start, end uint64) (int, int) {
	mm.splitVMAAtLocked(start)
	mm.splitVMAAtLocked(end)
	return mm.vmaIndexLocked(start), mm.vmaIndexLocked(end)
}

// unmapLocked removes every mapping in [start, end). The host mappings go
// first: the pages are released only once no thread can reach them (a
// freed page can be given to another process at once).
func (mm *MemoryManager) unmapLocked(start, end uint64) {
	mm.layoutGen++
	if start >= end {
		return
	}
	i, j := mm.isolateLocked(start, end)
	var as, ae uint64
	for _, v := range mm.vmas[i:j] {
		if len(v.pmas) > 0 {
			if as == ae {
				as = v.pmas[0].start
			}
			ae = v.pmas[len(v.pmas)-1].end
		}
	}
	if as < ae {
		mm.unmapAS(as, ae)
	}
	for _, v := range mm.vmas[i:j] {
		for n := range v.pmas {
			mm.mf.DecRef(v.pmas[n].fr)
		}
		v.pmas = nil
		mm.holdVMA(v, false)
	}
	mm.vmas = slices.Delete(mm.vmas, i, j)
}

// vmaStartGap returns the lowest address a new mapping below v may end at.
func vmaStartGap(v *vma) uint64 {
	if v.growsDown {
		if v.start < stackGuardGap {
			return 0
		}
		return v.start - stackGuardGap
	}
	return v.start
}

// isFreeLocked reports whether [start, end) is unmapped and keeps the guard
// gap below a growsdown vma above it.
func (mm *MemoryManager) isFreeLocked(start, end uint64) bool {
	i := mm.vmaIndexLocked(start)
	return i >= len(mm.vmas) || vmaStartGap(mm.vmas[i]) >= end
}

// canMerge reports whether b can be appended to a, as Linux merges vmas:
// adjacent, with the same attributes, and for a file, mapped through the
// same open file at contiguous offsets (a shared anonymous mapping is one
// file, so only its own pieces rejoin).
func canMerge(a, b *vma) bool {
	if a.end != b.start || a.mappable != b.mappable || a.file != b.file ||
		a.private != b.private || a.perms != b.perms || a.maxPerms != b.maxPerms ||
		a.growsDown != b.growsDown || a.dontFork != b.dontFork ||
		a.wipeOnFork != b.wipeOnFork || a.name != b.name {
		return false
	}
	return a.mappable == nil || b.off == a.off+(a.end-a.start)
}

// mergeRangeLocked merges the vmas overlapping or adjacent to [start, end]
// with each other where canMerge allows.
func (mm *MemoryManager) mergeRangeLocked(start, end uint64) {
	i := mm.vmaIndexLocked(start)
	if i > 0 {
		i--
	}
	for i+1 < len(mm.vmas) && mm.vmas[i].start <= end {
		a, b := mm.vmas[i], mm.vmas[i+1]
		if !canMerge(a, b) {
			i++
			continue
		}
		a.end = b.end
		a.pmas = append(a.pmas[:len(a.pmas):len(a.pmas)], b.pmas...)
		// a's reference to the file covers b's pages now.
		mm.holdVMA(b, false)
		mm.vmas = slices.Delete(mm.vmas, i+1, i+2)
	}
}
