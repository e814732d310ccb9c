package mm

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// MMapOpts describes one mmap request.
type MMapOpts struct {
	Length    uint64 // bytes; rounded up to pages
	Addr      uint64 // hint, or the address when Fixed
	Fixed     bool   // MAP_FIXED or MAP_FIXED_NOREPLACE
	Unmap     bool   // with Fixed: replace existing mappings (MAP_FIXED); false gives EEXIST on overlap
	Map32Bit  bool
	GrowsDown bool // MAP_GROWSDOWN
	Private   bool // MAP_PRIVATE (else MAP_SHARED)
	Precommit bool // MAP_POPULATE or loader: fault everything in now
	Perms     usermem.AccessType
	MaxPerms  usermem.AccessType // mprotect may not exceed this
	Mappable  memmap.Mappable    // nil for anonymous memory
	Offset    uint64             // file offset, page-aligned
	Name      string             // for /proc/[pid]/maps: path, "[stack]", "[vdso]", "[vvar]"
	// Hold, if not nil, is called with true when a vma starts referring to
	// the mapped file and with false when it stops (to keep the file open).
	// It is called with the MemoryManager's lock held and must not call
	// back into it.
	Hold func(inc bool)
	// File is the open file the mapping is made through (Linux's
	// vm_file), nil for anonymous memory. It must be comparable with ==
	// (a pointer): mappings of one file made through different opens are
	// not merged, as on Linux.
	File any
}

// HolePuncher is implemented by an MMapOpts.File that can free a range of
// its file (fallocate's FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE):
// madvise(MADV_REMOVE) punches the range a shared mapping covers, as
// Linux does through the mapping's file. The file drops the pages from
// its mappings itself. It is called without the memory manager's lock.
type HolePuncher interface {
	PunchHole(off, length uint64) error
}

// map32Start and map32End bound MAP_32BIT placement, as on Linux/x86-64.
const (
	map32Start = 0x40000000
	map32End   = 0x80000000
)

// MMap creates a mapping and returns its address.
func (mm *MemoryManager) MMap(opts MMapOpts) (uint64, error) {
	if opts.Length == 0 {
		return 0, errInval
	}
	length, ok := usermem.PageRoundUp(opts.Length)
	if !ok || length == 0 {
		return 0, errNoMem
	}
	if !usermem.IsPageAligned(opts.Offset) {
		return 0, errInval
	}
	if opts.Offset+length < opts.Offset {
		return 0, unix.EOVERFLOW
	}
	if opts.Fixed && !usermem.IsPageAligned(opts.Addr) {
		return 0, errInval
	}
	if !opts.MaxPerms.SupersetOf(opts.Perms) {
		return 0, unix.EACCES
	}
	if length > mm.maxAddr-mm.minAddr {
		return 0, errNoMem
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	var addr uint64
	if opts.Fixed {
		addr = opts.Addr
		if addr > mm.maxAddr-length {
			return 0, errNoMem
		}
		if addr < mm.minAddr {
			return 0, unix.EPERM
		}
		if opts.Unmap {
			if !mm.mayExpandLocked(length, mm.mappedInLocked(addr, addr+length)) {
				return 0, errNoMem
			}
			mm.unmapLocked(addr, addr+length)
		} else if i := mm.vmaIndexLocked(addr); i < len(mm.vmas) && mm.vmas[i].start < addr+length {
			return 0, unix.EEXIST
		}
	} else {
		var err error
		if addr, err = mm.findAvailableLocked(opts.Addr, length, opts.Map32Bit); err != nil {
			return 0, err
		}
	}
	if !mm.mayExpandLocked(length, mm.mappedInLocked(addr, addr+length)) {
		return 0, errNoMem
	}

	v := &vma{
		start:     addr,
		end:       addr + length,
		perms:     opts.Perms,
		maxPerms:  opts.MaxPerms,
		private:   opts.Private,
		growsDown: opts.GrowsDown,
		mappable:  opts.Mappable,
		off:       opts.Offset,
		name:      opts.Name,
		hold:      opts.Hold,
		file:      opts.File,
	}
	if v.mappable == nil && !v.private {
		sa := newSharedAnon(mm.mf, length)
		v.mappable = sa
		v.hold = sa.hold
		v.file = sa
		v.off = 0
		if v.name == "" {
			v.name = "/dev/zero (deleted)"
		}
	}
	mm.holdVMA(v, true)
	mm.insertVMALocked(v)
	mm.claimPatchTableLocked(addr, addr+length)
	if opts.Precommit {
		// As MAP_POPULATE, failures are not reported.
		mm.populateLocked(addr, addr+length, false)
	}
	mm.mergeRangeLocked(addr, addr+length)
	return addr, nil
}

// insertVMALocked inserts v, which must not overlap any vma, dropping
// the parked ranges it may not cover (keepParkedLocked).
func (mm *MemoryManager) insertVMALocked(v *vma) {
	if len(mm.parked) > 0 {
		mm.keepParkedLocked(v)
	}
	i := mm.vmaIndexLocked(v.start)
	mm.vmas = append(mm.vmas, nil)
	copy(mm.vmas[i+1:], mm.vmas[i:])
	mm.vmas[i] = v
}

// findAvailableLocked picks the address of a new mapping of length bytes:
// the hint if it is free, else (MAP_32BIT) the lowest free range below
// 2 GiB, else the highest free range below the mmap base, else the lowest
// free range above it.
func (mm *MemoryManager) findAvailableLocked(hint, length uint64, map32 bool) (uint64, error) {
	if hint != 0 {
		if h, ok := usermem.PageRoundUp(hint); ok && h >= mm.minAddr && h <= mm.maxAddr-length && mm.isFreeLocked(h, h+length) {
			return h, nil
		}
	}
	if map32 {
		if a, ok := mm.findBottomUpLocked(max(map32Start, mm.minAddr), min(map32End, mm.maxAddr), length); ok {
			return a, nil
		}
		return 0, errNoMem
	}
	if a, ok := mm.findTopDownLocked(mm.minAddr, mm.mmapBase, length); ok {
		return a, nil
	}
	if a, ok := mm.findBottomUpLocked(mm.mmapBase, mm.maxAddr, length); ok {
		return a, nil
	}
	return 0, errNoMem
}

// findTopDownLocked returns the highest address a in [lo, hi-length] with
// [a, a+length) free (respecting stack guard gaps).
func (mm *MemoryManager) findTopDownLocked(lo, hi, length uint64) (uint64, bool) {
	if hi <= lo || hi-lo < length {
		return 0, false
	}
	// Gaps from the top: gap k lies between vmas[k-1] and vmas[k].
	for k := mm.vmaIndexLocked(hi); k >= 0; k-- {
		gapLo, gapHi := lo, hi
		if k > 0 {
			gapLo = max(gapLo, mm.vmas[k-1].end)
		}
		if k < len(mm.vmas) {
			gapHi = min(gapHi, vmaStartGap(mm.vmas[k]))
		}
		if gapHi > gapLo && gapHi-gapLo >= length {
			return gapHi - length, true
		}
		if k > 0 && mm.vmas[k-1].end <= lo {
			break
		}
	}
	return 0, false
}

// findBottomUpLocked returns the lowest address a in [lo, hi-length] with
// [a, a+length) free.
func (mm *MemoryManager) findBottomUpLocked(lo, hi, length uint64) (uint64, bool) {
	if hi <= lo || hi-lo < length {
		return 0, false
	}
	for k := mm.vmaIndexLocked(lo); k <= len(mm.vmas); k++ {
		gapLo, gapHi := lo, hi
		if k > 0 {
			gapLo = max(gapLo, mm.vmas[k-1].end)
		}
		if k < len(mm.vmas) {
			gapHi = min(gapHi, vmaStartGap(mm.vmas[k]))
		}
		if gapHi > gapLo && gapHi-gapLo >= length {
			return gapLo, true
		}
		if gapLo >= hi {
			break
		}
	}
	return 0, false
}

// MUnmap implements munmap(2).
func (mm *MemoryManager) MUnmap(addr, length uint64) error {
	if !usermem.IsPageAligned(addr) || length == 0 {
		return errInval
	}
	l, ok := usermem.PageRoundUp(length)
	if !ok || addr > mm.maxAddr || l > mm.maxAddr-addr {
		return errInval
	}
	mm.mu.Lock()
	if !mm.parkLocked(addr, addr+l) {
		mm.unmapLocked(addr, addr+l)
	}
	mm.mu.Unlock()
	return nil
}

// MProtect implements mprotect(2); growsDown is PROT_GROWSDOWN. As on
// Linux, vmas before a hole or a vma whose MaxPerms forbid at are changed
// before the error is returned.
func (mm *MemoryManager) MProtect(addr, length uint64, at usermem.AccessType, growsDown bool) error {
	if !usermem.IsPageAligned(addr) {
		return errInval
	}
	if length == 0 {
		return nil
	}
	l, ok := usermem.PageRoundUp(length)
	end := addr + l
	if !ok || end <= addr {
		return errNoMem
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	i := mm.vmaIndexLocked(addr)
	if i >= len(mm.vmas) {
		return errNoMem
	}
	start := addr
	if growsDown {
		if mm.vmas[i].start >= end {
			return errNoMem
		}
		if !mm.vmas[i].growsDown {
			return errInval
		}
		start = mm.vmas[i].start
	} else if mm.vmas[i].start > start {
		return errNoMem
	}

	// Find how far the change applies, and the error that stops it.
	var err error
	cur := start
	for k := i; cur < end; k++ {
		if k >= len(mm.vmas) || mm.vmas[k].start > cur {
			err = errNoMem
			break
		}
		if !mm.vmas[k].maxPerms.SupersetOf(at) {
			err = unix.EACCES
			break
		}
		cur = min(mm.vmas[k].end, end)
	}
	if cur > start {
		a, b := mm.isolateLocked(start, cur)
		for k := a; k < b; k++ {
			v := mm.vmas[k]
			if v.perms == at {
				continue
			}
			if at.Write && !v.perms.Write {
				mm.unpatchTextLocked(v)
			}
			v.perms = at
			mm.remapLocked(v, v.start, v.end)
		}
		mm.mergeRangeLocked(start, cur)
	}
	return err
}

// SetBrkStart sets the initial program break (after the loader placed the
// data segment). brk(2) can then move it up to RLIMIT_DATA.
func (mm *MemoryManager) SetBrkStart(addr uint64) {
	mm.mu.Lock()
	mm.brkStart, mm.brk = addr, addr
	mm.mu.Unlock()
}

// Brk implements brk(2): it returns the new break, or the old one on failure.
func (mm *MemoryManager) Brk(addr uint64) uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if addr < mm.brkStart || addr > mm.maxAddr {
		return mm.brk
	}
	if mm.dataLimit != 0 && addr-mm.brkStart > mm.dataLimit {
		return mm.brk
	}
	oldEnd, _ := usermem.PageRoundUp(mm.brk)
	newEnd, _ := usermem.PageRoundUp(addr)
	switch {
	case newEnd < oldEnd:
		mm.unmapLocked(newEnd, oldEnd)
	case newEnd > oldEnd:
		if oldEnd < mm.minAddr || !mm.isFreeLocked(oldEnd, newEnd) || !mm.mayExpandLocked(newEnd-oldEnd, 0) {
			return mm.brk
		}
		if i := mm.vmaIndexLocked(oldEnd - 1); oldEnd > 0 && i < len(mm.vmas) && mm.vmas[i].end == oldEnd &&
			mm.vmas[i].name == "[heap]" && mm.vmas[i].isPrivateAnon() && mm.vmas[i].perms == usermem.ReadWrite {
			mm.vmas[i].end = newEnd
		} else {
			mm.insertVMALocked(&vma{
				start:    oldEnd,
				end:      newEnd,
				perms:    usermem.ReadWrite,
				maxPerms: usermem.AnyAccess,
				private:  true,
				name:     "[heap]",
			})
		}
		mm.claimPatchTableLocked(oldEnd, newEnd)
		mm.mergeRangeLocked(oldEnd, newEnd)
		mm.mapBrkLocked(oldEnd)
	}
	mm.brk = addr
	return addr
}

// mapBrkLocked fills and maps the fault-around window of the heap's new
// part from start, as a write fault there would: a program grows its heap
// to write there at once (the C library's thread control block, malloc's
// chunk headers), and the fault cost a platform round trip on top of the
// map request the brk call now makes. Failures only leave the page to
// fault.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) mapBrkLocked(start uint64) {
	if mm.as == nil {
		return // a deferred image: Activate maps what is filled
	}
	v := mm.findVMALocked(start)
	if v == nil || !v.isPrivateAnon() || v.findPMA(start) != nil {
		return
	}
	if s, e, kind, res := mm.fillLocked(v, start, 0); res == faultOK && kind != fillMapped {
		mm.mapFaultLocked(v, start, s, e, false, kind == fillCommitted)
	}
}

// MRemap implements mremap(2) with MREMAP_MAYMOVE/FIXED/DONTUNMAP flags.
// Moving a mapping moves its pmas: no data is copied.
func (mm *MemoryManager) MRemap(oldAddr, oldSize, newSize uint64, flags int, newAddr uint64) (uint64, error) {
	const known = unix.MREMAP_MAYMOVE | unix.MREMAP_FIXED | unix.MREMAP_DONTUNMAP
	mayMove := flags&unix.MREMAP_MAYMOVE != 0
	fixed := flags&unix.MREMAP_FIXED != 0
	dontUnmap := flags&unix.MREMAP_DONTUNMAP != 0
	if flags&^known != 0 || (fixed && !mayMove) || (dontUnmap && !mayMove) {
		return 0, errInval
	}
	if !usermem.IsPageAligned(oldAddr) {
		return 0, errInval
	}
	oldSize, ok1 := usermem.PageRoundUp(oldSize)
	newSize, ok2 := usermem.PageRoundUp(newSize)
	if !ok1 || !ok2 || newSize == 0 {
		return 0, errInval
	}
	if dontUnmap && oldSize != newSize {
		return 0, errInval
	}
	if fixed {
		if !usermem.IsPageAligned(newAddr) || newSize > mm.maxAddr || newAddr > mm.maxAddr-newSize {
			return 0, errInval
		}
		if newAddr < oldAddr+oldSize && oldAddr < newAddr+newSize {
			return 0, errInval
		}
		if newAddr < mm.minAddr {
			return 0, unix.EPERM
		}
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	// The old address must be mapped, before anything is unmapped.
	v := mm.findVMALocked(oldAddr)
	if v == nil {
		return 0, errFault
	}
	if oldSize == 0 {
		// Duplicate a shared mapping.
		if v.private {
			return 0, errInval
		}
		if !mayMove {
			return 0, errNoMem
		}
		if fixed && !mm.mayExpandLocked(newSize, mm.mappedInLocked(newAddr, newAddr+newSize)) ||
			!fixed && !mm.mayExpandLocked(newSize, 0) {
			return 0, errNoMem
		}
		dst := newAddr
		if fixed {
			mm.unmapLocked(dst, dst+newSize)
		} else {
			var err error
			if dst, err = mm.findAvailableLocked(0, newSize, false); err != nil {
				return 0, err
			}
		}
		nv := &vma{
			start: dst, end: dst + newSize,
			perms: v.perms, maxPerms: v.maxPerms,
			private: v.private, mappable: v.mappable,
			off:  v.off + (oldAddr - v.start),
			name: v.name, hold: v.hold, file: v.file,
		}
		mm.holdVMA(nv, true)
		mm.insertVMALocked(nv)
		mm.claimPatchTableLocked(dst, dst+newSize)
		return dst, nil
	}
	// As Linux, a shrink unmaps the old range's tail whatever it holds
	// (several vmas, holes; a range munmap would take, EINVAL if not),
	// and only what is kept must lie in v (EFAULT if not).
	if newSize < oldSize && (oldAddr+oldSize < oldAddr || oldAddr+oldSize > mm.maxAddr) {
		return 0, errInval
	}

	if fixed && oldSize == newSize {
		return mm.moveRangeLocked(oldAddr, oldSize, newAddr, dontUnmap)
	}
	if fixed || dontUnmap {
		grow := uint64(0)
		if dontUnmap {
			grow = newSize
		} else if newSize > oldSize {
			grow = newSize - oldSize
		}
		freed := uint64(0)
		if fixed {
			freed = mm.mappedInLocked(newAddr, newAddr+newSize)
		}
		if !mm.mayExpandLocked(grow, freed) {
			return 0, errNoMem
		}
		// Checked before anything is unmapped.
		keep := min(oldSize, newSize)
		if keep > v.end-oldAddr {
			return 0, errFault
		}
		dst := newAddr
		if fixed {
			mm.unmapLocked(dst, dst+newSize)
		}
		if oldSize > keep {
			mm.unmapLocked(oldAddr+keep, oldAddr+oldSize)
		}
		if !fixed {
			var err error
			if dst, err = mm.findAvailableLocked(0, newSize, false); err != nil {
				return 0, err
			}
		}
		mm.moveLocked(oldAddr, keep, dst, newSize, dontUnmap)
		return dst, nil
	}

	if newSize <= oldSize {
		mm.unmapLocked(oldAddr+newSize, oldAddr+oldSize)
		return oldAddr, nil
	}
	if oldSize > v.end-oldAddr {
		return 0, errFault
	}
	if !mm.mayExpandLocked(newSize-oldSize, 0) {
		return 0, errNoMem
	}

	// Grow in place if the old range ends its vma and the space after it
	// is free.
	if oldAddr+oldSize == v.end && newSize <= mm.maxAddr-oldAddr && mm.isFreeLocked(v.end, oldAddr+newSize) {
		oldEnd := v.end
		v.end = oldAddr + newSize
		if len(mm.parked) > 0 {
			mm.keepParkedLocked(v)
		}
		mm.claimPatchTableLocked(oldEnd, v.end)
		mm.mergeRangeLocked(v.start, v.end)
		return oldAddr, nil
	}
	if !mayMove {
		return 0, errNoMem
	}
	dst, err := mm.findAvailableLocked(0, newSize, false)
	if err != nil {
		return 0, err
	}
	mm.moveLocked(oldAddr, oldSize, dst, newSize, false)
	return dst, nil
}

// moveRangeLocked moves what is mapped in [oldAddr, oldAddr+size) to the
// same offsets from newAddr, as mremap(MREMAP_FIXED) does without a resize
// since Linux 6.17: the range may span several vmas and the holes between
// them (it must start in one, which the caller checked). Only the targets
// of the vmas are unmapped; what the target range holds across from a
// hole stays. The ranges do not overlap, so a move never disturbs a vma
// still to be moved.
func (mm *MemoryManager) moveRangeLocked(oldAddr, size, newAddr uint64, dontUnmap bool) (uint64, error) {
	end := oldAddr + size
	if end < oldAddr {
		return 0, errFault
	}
	var grow, freed uint64
	for i := mm.vmaIndexLocked(oldAddr); i < len(mm.vmas) && mm.vmas[i].start < end; i++ {
		s, e := max(mm.vmas[i].start, oldAddr), min(mm.vmas[i].end, end)
		if dontUnmap {
			grow += e - s
		}
		freed += mm.mappedInLocked(newAddr+(s-oldAddr), newAddr+(e-oldAddr))
	}
	if !mm.mayExpandLocked(grow, freed) {
		return 0, errNoMem
	}
	for cur := oldAddr; cur < end; {
		i := mm.vmaIndexLocked(cur)
		if i >= len(mm.vmas) || mm.vmas[i].start >= end {
			break
		}
		s, e := max(mm.vmas[i].start, cur), min(mm.vmas[i].end, end)
		dst := newAddr + (s - oldAddr)
		mm.unmapLocked(dst, dst+(e-s))
		mm.moveLocked(s, e-s, dst, e-s, dontUnmap)
		cur = e
	}
	return newAddr, nil
}

// moveLocked moves [oldAddr, oldAddr+oldSize), which lies in one vma, to
// the free range [dst, dst+newSize) (newSize >= oldSize), with its pmas.
// With dontUnmap, the old range stays mapped but loses its pmas; as on
// Linux, its vma is not split.
func (mm *MemoryManager) moveLocked(oldAddr, oldSize, dst, newSize uint64, dontUnmap bool) {
	var i int
	if dontUnmap {
		i = mm.vmaIndexLocked(oldAddr)
	} else {
		i, _ = mm.isolateLocked(oldAddr, oldAddr+oldSize)
	}
	v := mm.vmas[i]
	nv := new(vma)
	*nv = *v
	nv.start, nv.end = dst, dst+newSize
	nv.off = v.off + (oldAddr - v.start)
	j, k := v.splitPMAAt(oldAddr), v.splitPMAAt(oldAddr+oldSize)
	nv.pmas = make([]pma, k-j)
	for n, p := range v.pmas[j:k] {
		p.start = p.start - oldAddr + dst
		p.end = p.end - oldAddr + dst
		nv.pmas[n] = p
	}
	if j < k {
		mm.unmapAS(v.pmas[j].start, v.pmas[k-1].end)
	}
	v.pmas = slices.Delete(v.pmas, j, k)
	if dontUnmap {
		mm.holdVMA(nv, true)
	} else {
		// nv takes over v's hold.
		mm.vmas = append(mm.vmas[:i], mm.vmas[i+1:]...)
	}
	mm.insertVMALocked(nv)
	mm.claimPatchTableLocked(dst, dst+newSize)
	mm.mergeRangeLocked(dst, dst+newSize)
}

// madvise advice values that golang.org/x/sys does not name.
const (
	madvSoftOffline = 101
)

// MAdvise implements madvise(2).
func (mm *MemoryManager) MAdvise(addr, length uint64, advice int) error {
	if !usermem.IsPageAligned(addr) {
		return errInval
	}
	l, ok := usermem.PageRoundUp(length)
	if (!ok || l == 0) && length != 0 {
		return errInval
	}
	end := addr + l
	if end < addr {
		return errInval
	}
	switch advice {
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_DONTNEED, unix.MADV_DONTNEED_LOCKED, unix.MADV_FREE, unix.MADV_REMOVE,
		unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE,
		unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE, unix.MADV_DONTDUMP, unix.MADV_DODUMP,
		unix.MADV_WIPEONFORK, unix.MADV_KEEPONFORK, unix.MADV_COLD, unix.MADV_PAGEOUT,
		unix.MADV_POPULATE_READ, unix.MADV_POPULATE_WRITE, unix.MADV_COLLAPSE:
	case unix.MADV_HWPOISON, madvSoftOffline:
		return unix.EPERM
	default:
		return errInval
	}
	if l == 0 {
		return nil
	}

	mm.mu.Lock()
	holes, err := mm.madviseLocked(addr, end, advice)
	mm.mu.Unlock()
	// As Linux's madvise_remove, the hole is punched through the file
	// (which drops the pages from every mapping of it) without the
	// memory manager's lock, and a failure stops there. Each hole holds
	// its file meanwhile, since its vma may go as soon as mu is free.
	var perr error
	for _, h := range holes {
		if perr == nil {
			perr = h.file.PunchHole(h.off, h.length)
		}
		if h.hold != nil {
			h.hold(false)
		}
	}
	if perr != nil {
		return perr
	}
	return err
}

// hole is a file range MADV_REMOVE punches, with the hold (vma.hold) that
// keeps its file open until then.
type hole struct {
	file        HolePuncher
	hold        func(inc bool)
	off, length uint64
}

// madviseLocked applies advice to [addr, end) vma by vma, and returns the
// holes MADV_REMOVE must punch in the vmas it reached before an error.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) madviseLocked(addr, end uint64, advice int) ([]hole, error) {
	if advice == unix.MADV_POPULATE_READ || advice == unix.MADV_POPULATE_WRITE {
		switch mm.populateLocked(addr, end, advice == unix.MADV_POPULATE_WRITE) {
		case faultOK:
			return nil, nil
		case faultMapErr, faultOOM:
			return nil, errNoMem
		case faultAccErr:
			return nil, errInval
		default:
			return nil, errFault
		}
	}

	var holes []hole
	var err error
	cur := addr
	for cur < end {
		i := mm.vmaIndexLocked(cur)
		if i >= len(mm.vmas) || mm.vmas[i].start >= end {
			err = errNoMem
			break
		}
		v := mm.vmas[i]
		if v.start > cur {
			err = errNoMem
		}
		s, e := max(v.start, cur), min(v.end, end)
		switch advice {
		case unix.MADV_DONTNEED, unix.MADV_DONTNEED_LOCKED, unix.MADV_FREE, unix.MADV_REMOVE:
			if advice == unix.MADV_FREE && !v.isPrivateAnon() {
				return holes, errInval
			}
			if advice == unix.MADV_REMOVE {
				// Linux's madvise_remove: a file's pages only
				// (EINVAL for private anonymous memory), through a
				// shared mapping that may write (EACCES otherwise),
				// of a file that can punch holes (EOPNOTSUPP).
				if v.mappable == nil {
					return holes, errInval
				}
				if v.private || !v.maxPerms.Write {
					return holes, unix.EACCES
				}
				hp, ok := v.file.(HolePuncher)
				if !ok {
					return holes, unix.EOPNOTSUPP
				}
				if v.hold != nil {
					v.hold(true)
				}
				holes = append(holes, hole{hp, v.hold, v.off + (s - v.start), e - s})
			}
			// Private memory reads back as zero (anonymous) or as the
			// file (file-backed); shared memory is unaffected because
			// its pages stay in the Mappable.
			if v.isPrivateAnon() {
				mm.zeroPMAsLocked(v, s, e)
			} else {
				mm.removePMAsLocked(v, s, e)
			}
		case unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_WIPEONFORK, unix.MADV_KEEPONFORK:
			if advice == unix.MADV_WIPEONFORK && !v.isPrivateAnon() {
				return holes, errInval
			}
			a, b := mm.isolateLocked(s, e)
			for k := a; k < b; k++ {
				switch advice {
				case unix.MADV_DONTFORK:
					mm.vmas[k].dontFork = true
				case unix.MADV_DOFORK:
					mm.vmas[k].dontFork = false
				case unix.MADV_WIPEONFORK:
					mm.vmas[k].wipeOnFork = true
				case unix.MADV_KEEPONFORK:
					mm.vmas[k].wipeOnFork = false
				}
			}
			mm.mergeRangeLocked(s, e)
		}
		cur = e
	}
	return holes, err
}

// maxMinCorePages bounds the vector MinCore allocates; larger requests
// must use MinCoreInto in pieces.
const maxMinCorePages = 1 << 24

// MinCore returns mincore(2)'s vector for [addr, addr+length): 1 for pages
// that have memory behind them, 0 for the others.
func (mm *MemoryManager) MinCore(addr, length uint64) ([]byte, error) {
	if !usermem.IsPageAligned(addr) {
		return nil, errInval
	}
	l, ok := usermem.PageRoundUp(length)
	if !ok || addr > mm.maxAddr || l > mm.maxAddr-addr {
		return nil, errNoMem
	}
	if l/usermem.PageSize > maxMinCorePages {
		return nil, errNoMem
	}
	vec := make([]byte, l/usermem.PageSize)
	if err := mm.MinCoreInto(addr, vec); err != nil {
		return nil, err
	}
	return vec, nil
}

// MinCoreInto fills vec with the mincore(2) state of len(vec) pages from
// addr (page-aligned). It returns ENOMEM if any of them is unmapped.
func (mm *MemoryManager) MinCoreInto(addr uint64, vec []byte) error {
	if !usermem.IsPageAligned(addr) {
		return errInval
	}
	n := uint64(len(vec))
	if n > (mm.maxAddr-min(addr, mm.maxAddr))/usermem.PageSize {
		return errNoMem
	}
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	for k := uint64(0); k < n; {
		a := addr + k*usermem.PageSize
		v := mm.findVMALocked(a)
		if v == nil {
			return errNoMem
		}
		for k < n && addr+k*usermem.PageSize < v.end {
			a := addr + k*usermem.PageSize
			p := v.findPMA(a)
			if p == nil {
				vec[k] = 0
				k++
				continue
			}
			// A pma's pages are resident unless the host has none
			// behind them: never touched, or given back by
			// MADV_DONTNEED (zeroPMAsLocked).
			m := min(n-k, (p.end-a)/usermem.PageSize)
			if mm.mf.Resident(p.fileRange(a, a+m*usermem.PageSize), vec[k:k+m]) != nil {
				for j := k; j < k+m; j++ {
					vec[j] = 1
				}
			}
			k += m
		}
	}
	return nil
}

// MSync implements msync(2). For most files the memory file is the only
// copy of shared file data; a Mappable that copies another file
// (memmap.Syncer) is asked to write its pages back.
func (mm *MemoryManager) MSync(addr, length uint64, flags int) error {
	const known = unix.MS_ASYNC | unix.MS_INVALIDATE | unix.MS_SYNC
	if flags&^known != 0 || !usermem.IsPageAligned(addr) {
		return errInval
	}
	if flags&unix.MS_ASYNC != 0 && flags&unix.MS_SYNC != 0 {
		return errInval
	}
	l, ok := usermem.PageRoundUp(length)
	end := addr + l
	if !ok || end < addr {
		return errNoMem
	}
	if end == addr {
		return nil
	}
	var syncers []memmap.Syncer
	mm.mu.RLock()
	for cur := addr; cur < end; {
		i := mm.vmaIndexLocked(cur)
		if i >= len(mm.vmas) || mm.vmas[i].start > cur {
			mm.mu.RUnlock()
			return errNoMem
		}
		if s, ok := mm.vmas[i].mappable.(memmap.Syncer); ok && !mm.vmas[i].private {
			syncers = append(syncers, s)
		}
		cur = mm.vmas[i].end
	}
	mm.mu.RUnlock()
	for _, s := range syncers {
		if err := s.Sync(); err != nil {
			return unix.EIO
		}
	}
	return nil
}
