package mm

import (
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Parked ranges.
//
// A program that maps, touches and unmaps the same amount of anonymous
// memory again and again (malloc above its mmap threshold, CPython's
// arenas, the mmap_touch benchmark) paid, each round, on a platform whose
// address spaces are host processes: a host mmap that populates the page
// tables of the new pages (a first write to a shared mapping of the
// memory file is otherwise one host fault per page), then a host munmap
// that tears them down, each a round trip to the stub's server.
//
// When munmap removes whole pmas of private anonymous memory that nothing
// else references, and the address space can change access in place
// (platform.Protector), the memory manager keeps the pages and the host
// mapping, made inaccessible, as a parked range, instead of unmapping and
// freeing them. A fault in a private anonymous mapping that covers a
// parked range takes it back whole: its pages are zeroed through the
// sentry's view and the host mapping made accessible again, one mprotect
// where a populating mmap and, later, a munmap were.
//
// Invariant (mm.mu): no pma overlaps a parked range, and the host maps
// there nothing but the parked pages, without access (or nothing, where
// something unmapped them). Only fillLocked and mremap's move make pmas;
// so a fill of a window that overlaps a parked range drops the range
// first (dropParkedLocked) unless it takes it back, and so does inserting
// or growing (mremap in place) a vma over it that is not private
// anonymous memory without pmas there (keepParkedLocked: a file mapped
// there, a mapping mremap moved there, which would never take it back),
// as does running out of room for a newer one. Dropping unmaps the host range before releasing the pages, as
// unmapLocked does, since a released page may go to another process at
// once; the range has no pma, so nothing of the application is unmapped
// with it. A take-back that finds the host mapping gone (the Protect
// fails) maps the pages as a fault would.
//
// The memory file bounds the bytes parked sandbox-wide (ReserveKept), so
// that memory a program freed stays little and, under a memory limit, a
// small share of it; they count neither against the limit nor in the
// memory the sandbox reports as used (memfile.Usage.InUse): the program
// freed them.

const (
	// parkMin is the smallest range parked: below it a populating mmap
	// costs about what an mprotect does.
	parkMin = 64 << 10
	// parkMax bounds one address space's parked bytes, and parkRanges its
	// parked ranges: the program that reuses its memory reuses the last
	// few ranges it freed.
	parkMax    = 4 << 20
	parkRanges = 4
)

// parkedRange is a range [start, end) that munmap removed, whose pages
// fr the memory manager still holds (one reference) and the host still
// maps there, inaccessible.
type parkedRange struct {
	start, end uint64
	fr         memfile.Range
}

// parkLocked parks the pmas of [start, end), which munmap is removing,
// if all of it is one private anonymous vma's pmas that only it holds,
// every page with host memory behind it, and reports whether it did; then
// the caller must not unmap the range, whose vma parkLocked removed.
// Otherwise nothing changed but the splitting of vmas at start and end,
// and the caller unmaps the range.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) parkLocked(start, end uint64) bool {
	pr, ok := mm.as.(platform.Protector)
	if !ok || end-start < parkMin || end-start > parkMax {
		return false
	}
	i, j := mm.isolateLocked(start, end)
	if j != i+1 {
		return false
	}
	v := mm.vmas[i]
	if !v.isPrivateAnon() || v.hold != nil || len(v.pmas) == 0 || len(v.pmas) > parkRanges ||
		v.pmas[0].start != start || v.pmas[len(v.pmas)-1].end != end {
		return false
	}
	for k := range v.pmas {
		p := &v.pmas[k]
		if p.cow || (k > 0 && v.pmas[k-1].end != p.start) || !mm.mf.IsExclusive(p.fr) {
			return false
		}
		// A range touched sparsely is not taken back (unparkLocked):
		// parking it would only add a request.
		if !mm.mf.AllResident(p.fr) {
			return false
		}
	}
	if !mm.mf.ReserveKept(end - start) {
		return false
	}
	if pr.Protect(start, end-start, usermem.NoAccess) != nil {
		// The host did not map all of it (pages the sentry filled but
		// no fault mapped): unmapLocked unmaps what it did.
		mm.mf.ReleaseKept(end - start)
		return false
	}
	mm.layoutGen++
	for _, p := range v.pmas {
		mm.parked = append(mm.parked, parkedRange{start: p.start, end: p.end, fr: p.fr})
		mm.parkedBytes += p.end - p.start
	}
	v.pmas = nil
	mm.vmas = append(mm.vmas[:i], mm.vmas[i+1:]...)
	for len(mm.parked) > parkRanges || mm.parkedBytes > parkMax {
		mm.dropParkedAtLocked(0)
	}
	return true
}

// unparkLocked takes back the parked range that contains addr, in v, a
// private anonymous vma with no pma there, if one does and all of it lies
// in the gap [gs, ge) of v's pmas: its zeroed pages become v's pma and the
// host maps them with v's access again. It returns the range, and false
// if there was none to take back, or taking it back failed (the range is
// dropped then).
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) unparkLocked(v *vma, addr, gs, ge uint64) (uint64, uint64, bool) {
	k := mm.parkedIndexLocked(addr)
	if k < 0 {
		return 0, 0, false
	}
	r := mm.parked[k]
	if r.start < gs || r.end > ge || r.start < v.start || r.end > v.end {
		return 0, 0, false
	}
	// Only pages with host memory behind them still hold what the last
	// owner wrote; a page without any reads as zero. A range a program
	// touched sparsely is not taken back (zeroing its holes through the
	// sentry's view would give them host memory).
	if !mm.mf.ZeroResident(r.fr) {
		mm.dropParkedAtLocked(k)
		return 0, 0, false
	}
	mm.removeParkedAtLocked(k)
	v.insertPMA(pma{start: r.start, end: r.end, fr: r.fr})
	mm.layoutGen++
	mm.losePatchTableLocked(r.start, r.end)
	if mm.as.(platform.Protector).Protect(r.start, r.end-r.start, v.perms.Effective()) != nil {
		// The pages are v's now: a mapping replaces what the host has
		// (a failure leaves them to the next fault).
		mm.mapRangeLocked(v, r.start, r.end)
	}
	return r.start, r.end, true
}

// dropParkedLocked drops every parked range that overlaps [start, end).
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) dropParkedLocked(start, end uint64) {
	for k := 0; k < len(mm.parked); {
		if r := mm.parked[k]; r.start < end && start < r.end {
			mm.dropParkedAtLocked(k)
			continue
		}
		k++
	}
}

// keepParkedLocked drops the parked ranges that v, just inserted, overlaps,
// unless v is private anonymous memory without pmas over them: a range
// such a vma covers whole is one its faults may take back.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) keepParkedLocked(v *vma) {
	for k := 0; k < len(mm.parked); {
		r := mm.parked[k]
		if r.start >= v.end || v.start >= r.end {
			k++
			continue
		}
		if v.isPrivateAnon() && v.hold == nil && r.start >= v.start && r.end <= v.end && !v.hasPMAIn(r.start, r.end) {
			k++
			continue
		}
		mm.dropParkedAtLocked(k)
	}
}

// dropParkedAtLocked unmaps parked range k from the host and releases its
// pages.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) dropParkedAtLocked(k int) {
	r := mm.parked[k]
	mm.removeParkedAtLocked(k)
	mm.unmapAS(r.start, r.end)
	mm.mf.DecRef(r.fr)
}

// removeParkedAtLocked forgets parked range k, whose pages the caller
// takes over.
func (mm *MemoryManager) removeParkedAtLocked(k int) {
	r := mm.parked[k]
	mm.parked = append(mm.parked[:k], mm.parked[k+1:]...)
	mm.parkedBytes -= r.end - r.start
	mm.mf.ReleaseKept(r.end - r.start)
}

// parkedIndexLocked returns the index of the parked range that contains
// addr, or -1.
func (mm *MemoryManager) parkedIndexLocked(addr uint64) int {
	for k, r := range mm.parked {
		if r.start <= addr && addr < r.end {
			return k
		}
	}
	return -1
}

// releaseParkedLocked releases every parked range's pages, once the host
// address space is gone.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) releaseParkedLocked() {
	for len(mm.parked) > 0 {
		r := mm.parked[len(mm.parked)-1]
		mm.removeParkedAtLocked(len(mm.parked) - 1)
		mm.mf.DecRef(r.fr)
	}
}

// hasPMAIn reports whether v has a pma overlapping [s, e).
func (v *vma) hasPMAIn(s, e uint64) bool {
	i := v.pmaIndex(s)
	return i < len(v.pmas) && v.pmas[i].start < e
}
