package mm

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// si_code values.
const (
	segvMapErr = 1 // SEGV_MAPERR
	segvAccErr = 2 // SEGV_ACCERR
	busAdrErr  = 2 // BUS_ADRERR
)

// faultResult is what a fault (or a copy's fault-in) came to.
type faultResult int

const (
	faultOK faultResult = iota
	faultMapErr
	faultAccErr
	faultBus
	// faultOOM: the memory file refused new pages (the container's
	// memory limit); the OOM killer was told and the access is retried.
	faultOOM
)

// oomRetryDelay is how long a fault that found no memory waits before the
// access is retried, giving the OOM killer's victim time to exit.
const oomRetryDelay = 2 * time.Millisecond

// allocFailure is the fault result of a failed memory file allocation.
func allocFailure(err error) faultResult {
	if err == unix.ENOMEM {
		return faultOOM
	}
	return faultBus
}

// HandleFault handles an application fault reported by the platform.
// It returns sig == 0 if the access should be retried, or the signal and
// si_code to deliver (SIGSEGV with SEGV_MAPERR/SEGV_ACCERR, SIGBUS with
// BUS_ADRERR) for an access the application was not allowed to make.
//
// at is the access as far as the platform knows it: NoAccess or AnyAccess
// mean "unknown" (ptrace's SEGV_MAPERR), and the ptrace platform reports
// Write for every SEGV_ACCERR. hostCode is the host's si_code.
//
// Faults of concurrent threads share one record of the last spurious
// fault; a thread should use HandleThreadFault.
func (mm *MemoryManager) HandleFault(addr uint64, at usermem.AccessType, hostCode int32) (sig, code int32) {
	return mm.HandleThreadFault(addr, at, hostCode, &mm.lastSpurious)
}

// SpuriousFault is a thread's record of its last access-error fault that
// was retried because the vma and pma allow the access (see
// handleFaultLocked). It is owned by the thread.
type SpuriousFault struct {
	mm   *MemoryManager
	page uint64
	// gen is mm.layoutGen when the fault was retried.
	gen uint64
}

// HandleThreadFault is HandleFault for the thread whose record last is.
// Only the same thread's second fault on a page is real: other threads'
// faults on a page one of them just upgraded (their faults were taken
// before the upgrade) are retried, however many of them there are (the
// systrap platform runs an address space's threads in parallel, so many
// may fault on one copy-on-write page at once).
func (mm *MemoryManager) HandleThreadFault(addr uint64, at usermem.AccessType, hostCode int32, last *SpuriousFault) (sig, code int32) {
	mm.mu.Lock()
	if last.mm != mm {
		*last = SpuriousFault{mm: mm}
	}
	res := mm.handleFaultLocked(addr, at, hostCode, last)
	if res == faultOK && mm.hintsLeft > 0 {
		mm.hintsLeft--
		mm.parentHints.record(addr, at.Write)
	}
	mm.mu.Unlock()
	switch res {
	case faultOK:
		return 0, 0
	case faultMapErr:
		return int32(unix.SIGSEGV), segvMapErr
	case faultAccErr:
		return int32(unix.SIGSEGV), segvAccErr
	case faultOOM:
		// Linux (pagefault_out_of_memory) retries the access after the
		// OOM killer ran: the victim's pages come back, or the victim
		// is this task, which dies on its way back to the application.
		time.Sleep(oomRetryDelay)
		return 0, 0
	default:
		return int32(unix.SIGBUS), busAdrErr
	}
}

func (mm *MemoryManager) handleFaultLocked(addr uint64, at usermem.AccessType, hostCode int32, last *SpuriousFault) faultResult {
	lastSpurious := &last.page
	unknown := at == usermem.NoAccess || at == usermem.AnyAccess
	v := mm.vmaForFaultLocked(addr)
	if v == nil {
		return faultMapErr
	}
	if !v.perms.Any() || (!unknown && !v.perms.Effective().SupersetOf(at)) {
		return faultAccErr
	}
	page := usermem.PageRoundDown(addr)
	p := v.findPMA(addr)
	if p == nil {
		*lastSpurious = 0
		// Nothing backs the page yet (or a concurrent munmap/mmap raced
		// with the fault): fill in a window around it and map it.
		var size uint64
		if at.Write && !unknown && mm.cowContinues(v, addr) {
			// Fill as far as the run's next break copies.
			size = max(windowFor(v), min(2*mm.cowRun, maxCOWRun))
		}
		s, e, kind, res := mm.fillLocked(v, addr, size)
		if res != faultOK || kind == fillMapped {
			return res
		}
		return mm.mapFaultLocked(v, addr, s, e, at.Write && !unknown, kind == fillCommitted)
	}

	if hostCode == segvAccErr {
		// The host has the page mapped, with exactly v.effective(p) (see
		// the package comment), and refused the access. The ptrace
		// platform reports every such fault as a write.
		write := unknown || at.Write
		if write && p.cow && v.perms.Write {
			*lastSpurious = 0
			return mm.breakCOWLocked(v, addr)
		}
		eff := v.effective(p)
		if (write && !eff.Write) || (!write && !eff.SupersetOf(at)) {
			return faultAccErr
		}
		// What is mapped allows the access: either another thread
		// upgraded the page after this fault was taken, or the access was
		// not what the platform said (ptrace cannot tell an execute of a
		// non-executable page from a write). Remap and retry once; a
		// second fault on the same page is real, unless the layout
		// changed in between (another thread's fork made the page
		// copy-on-write again, an mprotect, a COW break): then the
		// retried access met a new mapping and this fault is a new one.
		if *lastSpurious == page && last.gen == mm.layoutGen {
			*lastSpurious = 0
			return faultAccErr
		}
		*lastSpurious = page
		last.gen = mm.layoutGen
		return mm.mapRangeLocked(v, page, page+usermem.PageSize)
	}
	*lastSpurious = 0

	// The host has nothing mapped here (for example in a child after
	// Fork, which inherits pmas but not host mappings): map the pmas
	// around the fault.
	s, e := faultWindow(v, addr, windowFor(v))
	return mm.mapFaultLocked(v, addr, s, e, at.Write && !unknown && p.cow, false)
}

// mapFaultLocked ends a fault at addr in v whose window [s, e) has its
// pmas: if write, it first copies the copy-on-write pages around addr
// (copyCOWLocked); then it maps the window, the copies and, in a file's
// vma, what fillAroundLocked adds, in one batch. (breakCOWLocked and a map
// of the window were two requests mapping the copies twice.) If committed,
// fillLocked just filled [s, e) with pages that have host memory behind
// them, and they are mapped populated.
func (mm *MemoryManager) mapFaultLocked(v *vma, addr, s, e uint64, write, committed bool) faultResult {
	old := mm.cowOld[:0]
	if write {
		cs, ce, res := mm.copyCOWLocked(v, addr, &old)
		if res != faultOK {
			mm.dropOld(old)
			return res
		}
		if cs < ce {
			s, e = min(s, cs), max(e, ce)
		}
	}
	mm.takeOverLocked(v, s, e)
	var b mapBatch
	b.init(mm)
	if committed {
		b.ps, b.pe = s, e
	}
	ok := b.addRange(v, s, e)
	if ok && v.mappable != nil {
		mm.fillAroundLocked(&b, v, addr)
	}
	ok = b.flush() && ok
	mm.dropOld(old)
	if !ok {
		return faultBus
	}
	return faultOK
}

// fillAroundLocked notes the application's fault at addr in v, a file's
// vma, in the file's fault history, and fills and adds to b what the
// history remembers of the file's vmas around v and the neighbouring vmas'
// part of the fault window (fillHistoryLocked, fillNeighboursLocked).
//
// Preconditions: v.mappable != nil; mm.mu is locked for writing.
func (mm *MemoryManager) fillAroundLocked(b *mapBatch, v *vma, addr uint64) {
	h := historyOf(v)
	if h != nil {
		h.Add((v.off + (addr - v.start)) / fileFaultWindow)
		mm.fillHistoryLocked(b, v, h)
	}
	mm.fillNeighboursLocked(b, v, addr, h)
}

// windowFor returns the fault-around size for v.
func windowFor(v *vma) uint64 {
	if v.isPrivateAnon() {
		return anonFaultWindow
	}
	return fileFaultWindow
}

// faultWindow returns the size-aligned window around addr, clipped to v;
// all of v if v is no longer than size, wherever it lies (a small
// mapping across an alignment boundary would take two faults, each with
// its allocation and map request).
func faultWindow(v *vma, addr, size uint64) (uint64, uint64) {
	if v.end-v.start <= size {
		return v.start, v.end
	}
	s := addr &^ (size - 1)
	e := s + size
	if e < s {
		e = ^uint64(0) &^ usermem.PageMask
	}
	if s < v.start {
		s = v.start
	}
	if e > v.end {
		e = v.end
	}
	return s, e
}

// vmaForFaultLocked returns the vma that covers addr, growing a
// MAP_GROWSDOWN vma just above addr down to it if the stack limit and the
// guard gap allow. It returns nil if addr is not (and cannot be) mapped.
func (mm *MemoryManager) vmaForFaultLocked(addr uint64) *vma {
	i := mm.vmaIndexLocked(addr)
	if i >= len(mm.vmas) {
		return nil
	}
	v := mm.vmas[i]
	if v.start <= addr {
		return v
	}
	if !v.growsDown {
		return nil
	}
	newStart := usermem.PageRoundDown(addr)
	if newStart < mm.minAddr || v.end-newStart > mm.stackLimit {
		return nil
	}
	if i > 0 {
		prev := mm.vmas[i-1]
		if newStart-prev.end < stackGuardGap && !prev.growsDown && prev.perms.Any() {
			return nil
		}
		if newStart < prev.end {
			return nil
		}
	}
	delta := v.start - newStart
	if v.mappable != nil {
		if v.off < delta {
			return nil
		}
		v.off -= delta
	}
	v.start = newStart
	return v
}

// fillKind says what fillLocked gave the range it filled.
type fillKind uint8

const (
	// fillFresh pages may have no host memory behind them yet.
	fillFresh fillKind = iota
	// fillCommitted pages all have host memory behind them
	// (memfile.AllocateCommitted): a fault maps them populated.
	fillCommitted
	// fillMapped pages are a parked range taken back (park.go), which
	// the host maps with the vma's access already.
	fillMapped
)

// fillLocked creates pmas in the gap around addr (which has none), within
// the fault-around window (or size, if not zero), and returns the range of
// the gap it filled, which includes addr's page, and what it gave it. It
// maps nothing, but a parked range it takes back (fillMapped), which it
// fills whole instead of the window. Parked ranges the window overlaps
// are dropped.
func (mm *MemoryManager) fillLocked(v *vma, addr, size uint64) (uint64, uint64, fillKind, faultResult) {
	if size == 0 {
		size = windowFor(v)
	}
	s, e := faultWindow(v, addr, size)
	// Clip to the gap between existing pmas.
	i := v.pmaIndex(addr)
	gs, ge := v.start, v.end
	if i > 0 {
		gs = v.pmas[i-1].end
	}
	if i < len(v.pmas) {
		ge = v.pmas[i].start
	}
	s, e = max(s, gs), min(e, ge)
	if len(mm.parked) > 0 {
		if v.mappable == nil {
			if ps, pe, ok := mm.unparkLocked(v, addr, gs, ge); ok {
				return ps, pe, fillMapped, faultOK
			}
		}
		mm.dropParkedLocked(s, e)
	}
	if v.mappable == nil {
		fr, committed, err := mm.mf.AllocateCommitted(e - s)
		if err != nil {
			return 0, 0, fillFresh, allocFailure(err)
		}
		v.insertPMA(pma{start: s, end: e, fr: fr})
		if committed {
			return s, e, fillCommitted, faultOK
		}
		return s, e, fillFresh, faultOK
	}

	// Translate from addr's page up, then the part of the window below it.
	page := usermem.PageRoundDown(addr)
	at := usermem.Read
	if !v.private && v.perms.Write {
		at = usermem.Write
	}
	end := mm.translateLocked(v, page, e, at)
	if end == page {
		// addr itself cannot be translated.
		return 0, 0, fillFresh, faultBus
	}
	start := page
	if s < page {
		// Best effort: stop at the first error.
		if got := mm.translateLocked(v, s, page, at); got == page {
			start = s
		}
	}
	return start, end, fillFresh, faultOK
}

// translateLocked inserts pmas for [s, e) of v from its Mappable and
// returns where it stopped (e, or the address of the first failure).
func (mm *MemoryManager) translateLocked(v *vma, s, e uint64, at usermem.AccessType) uint64 {
	cur := s
	for cur < e {
		off := v.off + (cur - v.start)
		fr, err := v.mappable.Translate(off, e-cur, at)
		if err != nil {
			return cur
		}
		n := fr.Length()
		if fr.End < fr.Start || n == 0 || n > e-cur || !usermem.IsPageAligned(fr.Start) || !usermem.IsPageAligned(n) {
			// A broken Mappable; do not trust its range.
			return cur
		}
		v.insertPMA(pma{start: cur, end: cur + n, fr: fr, cow: v.private})
		cur += n
	}
	return cur
}

// takeOverLocked clears the COW bit of private pmas in [s, e) of a
// writable private vma whose pages are no longer shared with anyone (for
// example in the parent after the child exited or exec'd), so that the
// next write does not fault. The caller maps the range afterwards.
func (mm *MemoryManager) takeOverLocked(v *vma, s, e uint64) {
	mm.layoutGen++
	if !v.private || !v.perms.Write {
		return
	}
	for i := v.pmaIndex(s); i < len(v.pmas) && v.pmas[i].start < e; i++ {
		p := &v.pmas[i]
		if p.cow && mm.mf.IsExclusive(p.fr) {
			p.cow = false
		}
	}
}

// breakCOWLocked gives the private vma v a writable private copy of the
// copy-on-write page at addr (and of the COW pages around it, within
// cowWindow), and maps the result.
func (mm *MemoryManager) breakCOWLocked(v *vma, addr uint64) faultResult {
	old := mm.cowOld[:0]
	s, e, res := mm.copyCOWLocked(v, addr, &old)
	if res == faultOK && s < e {
		res = mm.mapRangeLocked(v, s, e)
	}
	mm.dropOld(old)
	return res
}

// copyCOWLocked is breakCOWLocked but for the mapping: it returns the
// range the caller must map (empty if nothing changed), and appends to
// *old the pages replaced by copies, which the caller releases (dropOld)
// only after the host maps the copies: other threads of this address
// space read the old pages through the old host mapping meanwhile, and a
// page freed earlier (its other user, a forked child, may exit at any
// time) could be zeroed or handed to another process while still mapped.
func (mm *MemoryManager) copyCOWLocked(v *vma, addr uint64, old *[]memfile.Range) (uint64, uint64, faultResult) {
	mm.layoutGen++
	p := v.findPMA(addr)
	if p == nil || !p.cow {
		return 0, 0, faultOK
	}
	if !v.private {
		// Shared mappings are never COW; be defensive.
		p.cow = false
		return p.start, p.end, faultOK
	}
	if mm.mf.IsExclusive(p.fr) {
		// Nobody else refers to these pages: take them over.
		p.cow = false
		return p.start, p.end, faultOK
	}
	// The copy-on-write pages around addr are copied too, file pages as
	// anonymous ones: the dynamic loader's relocations write every page
	// of a library's data segment in order (Python's 308 pages cost 308
	// faults copied one at a time, a platform round trip each). That a
	// page of a private file mapping the application has not written may
	// stop following the file is allowed: mmap(2) leaves it unspecified
	// whether changes to the file after the mmap are visible in a
	// MAP_PRIVATE mapping.
	s, e := mm.cowRangeLocked(v, addr)
	i := v.splitPMAAt(s)
	j := v.splitPMAAt(e)
	for k := i; k < j; k++ {
		p := &v.pmas[k]
		if !p.cow {
			continue
		}
		if !mm.mf.IsExclusive(p.fr) {
			fr, err := mm.mf.AllocateUnzeroed(p.fr.Length())
			if err != nil {
				return 0, 0, allocFailure(err)
			}
			copy(mm.mf.Slice(fr), mm.mf.Slice(p.fr)) // all of it
			*old = append(*old, p.fr)
			p.fr = fr
		}
		p.cow = false
	}
	if j > i {
		// A run of breaks goes on from the last page copied: e may
		// lie past what is filled.
		mm.cowNext = v.pmas[j-1].end
		return v.pmas[i].start, v.pmas[j-1].end, faultOK
	}
	return 0, 0, faultOK
}

// cowRangeLocked returns the range of v a copy-on-write break at addr
// copies (copyCOWLocked records where the copies end, cowNext): the
// cowWindow-aligned window around it, or, when the break
// follows the previous one (the page right after it, in the same vma: a
// loader relocating a large data segment, a child writing through its
// inherited heap), twice the previous range from addr's page on, up to
// maxCOWRun. Python's 1 MiB of relocated library data took 16 breaks of
// 64 KiB, a fault, a platform round trip and a map request each.
func (mm *MemoryManager) cowRangeLocked(v *vma, addr uint64) (uint64, uint64) {
	page := usermem.PageRoundDown(addr)
	if !mm.cowContinues(v, addr) {
		mm.cowVMA, mm.cowRun = v, cowWindow
		return faultWindow(v, addr, cowWindow)
	}
	mm.cowRun = min(2*mm.cowRun, maxCOWRun)
	e := min(v.end, page+mm.cowRun)
	if e < page {
		e = v.end
	}
	return page, e
}

// cowContinues reports whether a write at addr continues the run of
// copy-on-write breaks (cowRangeLocked).
func (mm *MemoryManager) cowContinues(v *vma, addr uint64) bool {
	return mm.cowVMA == v && usermem.PageRoundDown(addr) == mm.cowNext
}

// dropOld releases the pages copyCOWLocked replaced, once mapped over,
// and keeps the slice's array for the next fault.
func (mm *MemoryManager) dropOld(old []memfile.Range) {
	for _, fr := range old {
		mm.mf.DecRef(fr)
	}
	mm.cowOld = old[:0]
}

// fillNeighboursLocked fills and adds to b the gaps of the vmas next to v
// that map the same file within the file fault-around window of addr, and,
// if h is not nil (v's file's fault history), the windows of all the
// file's vmas around v that earlier mappers faulted on. A dynamic loader
// maps a library as three or four vmas of one file (its headers, text,
// read-only data, data), whose first pages the program touches one after
// the other: the loader's relocations write the data, then the library's
// code runs and reads its constants. Each was a fault, a platform round
// trip and a map request of its own (six requests for each of the small
// libraries Python loads, two of them for its data); the first fault in
// the library now maps what the window holds of all of them, and what the
// history remembers, in its one batch. Shared writable vmas are left out
// (a translation for writing may mark the file's pages dirty). Failures
// only leave the pages to fault.
//
// Preconditions: v.mappable != nil; mm.mu is locked for writing.
func (mm *MemoryManager) fillNeighboursLocked(b *mapBatch, v *vma, addr uint64, h *memmap.FaultHistory) {
	ws := addr &^ (fileFaultWindow - 1)
	we := ws + fileFaultWindow
	if we < ws {
		we = ^uint64(0) &^ usermem.PageMask
	}
	i := mm.vmaIndexLocked(addr)
	for j := i - 1; j >= max(0, i-maxNeighbours) && mm.vmas[j].mappable == v.mappable; j-- {
		if mm.vmas[j].end <= ws && h == nil {
			break
		}
		mm.fillNeighbourLocked(b, mm.vmas[j], ws, we, h)
	}
	for j := i + 1; j < min(len(mm.vmas), i+1+maxNeighbours) && mm.vmas[j].mappable == v.mappable; j++ {
		if mm.vmas[j].start >= we && h == nil {
			break
		}
		mm.fillNeighbourLocked(b, mm.vmas[j], ws, we, h)
	}
}

// maxNeighbours bounds the vmas on each side of a fault's vma that
// fillNeighboursLocked looks at (a library has a handful; a program may
// map one file thousands of times side by side).
const maxNeighbours = 8

// maxHistoryFill bounds the windows of a file's fault history one fault
// fills (fillHistoryLocked).
const maxHistoryFill = 32

// historyOf returns the fault history of v's file (memmap.FaultHistory),
// or nil if it has none or v is a shared writable mapping (whose
// translation for writing may mark the file's pages dirty).
func historyOf(v *vma) *memmap.FaultHistory {
	if v.mappable == nil || (!v.private && v.perms.Write) {
		return nil
	}
	if hh, ok := v.mappable.(memmap.FaultHistoryHolder); ok {
		return hh.FaultHistory()
	}
	return nil
}

// fillHistoryLocked fills, as read faults would, the windows of v that
// earlier mappers of its file faulted on (h), up to maxHistoryFill of
// them, and adds them to b unless it is nil. Failures only leave the pages
// to fault.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) fillHistoryLocked(b *mapBatch, v *vma, h *memmap.FaultHistory) {
	lo := v.off / fileFaultWindow
	hi := (v.off + (v.end - v.start) + fileFaultWindow - 1) / fileFaultWindow
	var buf [maxHistoryFill]uint64
	for _, w := range h.AppendRange(buf[:0], lo, hi, maxHistoryFill) {
		a := v.start
		if off := w * fileFaultWindow; off > v.off {
			a += off - v.off
		}
		if a >= v.end || v.findPMA(a) != nil {
			continue
		}
		if _, ok := mm.fillAddLocked(b, v, a, fileFaultWindow); !ok {
			return
		}
	}
}

// fillAddLocked fills the gap of v around a, within the size-aligned
// window (fillLocked; 0: v's fault-around window), as a read fault would,
// and adds what it filled to b unless b is nil. It returns the end of what
// it filled (0 if it could not fill a), and false if b failed.
//
// Preconditions: mm.mu is locked for writing; v has no pma at a.
func (mm *MemoryManager) fillAddLocked(b *mapBatch, v *vma, a, size uint64) (uint64, bool) {
	s, e, _, res := mm.fillLocked(v, a, size)
	if res != faultOK {
		return 0, true
	}
	mm.layoutGen++
	return e, b == nil || b.addRange(v, s, e)
}

// fillNeighbourLocked fills the gaps of n in [ws, we), and the windows
// of n that h remembers if h is not nil, as a read fault would, and adds
// them to b.
func (mm *MemoryManager) fillNeighbourLocked(b *mapBatch, n *vma, ws, we uint64, h *memmap.FaultHistory) {
	if !n.perms.Any() || (!n.private && n.perms.Write) {
		return
	}
	if h != nil {
		mm.fillHistoryLocked(b, n, h)
	}
	for a, end := max(n.start, ws), min(n.end, we); a < end; {
		if p := n.findPMA(a); p != nil {
			a = p.end
			continue
		}
		e, ok := mm.fillAddLocked(b, n, a, fileFaultWindow)
		if !ok || e == 0 {
			return
		}
		a = e
	}
}

// mapRangeLocked maps the pmas of v in [s, e) into the AddressSpace with
// their effective permissions.
//
// Consecutive pmas that are contiguous in the memory file too and have the
// same permissions are mapped with one call: each call is a round trip to
// the platform (an injected mmap on ptrace), so a fault-around window of
// many small pmas must not cost one each. An AddressSpace that takes
// batches (platform.MapBatcher: systrap) gets the runs in one call.
func (mm *MemoryManager) mapRangeLocked(v *vma, s, e uint64) faultResult {
	return mm.mapRangePopLocked(v, s, e, false)
}

// mapRangePopLocked is mapRangeLocked that, if populate, has the host fill
// its page tables at once (platform.Mapping.Populate): for pmas whose
// pages all have host memory behind them.
func (mm *MemoryManager) mapRangePopLocked(v *vma, s, e uint64, populate bool) faultResult {
	var b mapBatch
	b.init(mm)
	if populate {
		b.ps, b.pe = s, e
	}
	if !b.addRange(v, s, e) || !b.flush() {
		return faultBus
	}
	return faultOK
}

// addRange adds the pmas of v in [s, e) to the batch. It returns false if
// a mapping failed.
func (b *mapBatch) addRange(v *vma, s, e uint64) bool {
	for i := v.pmaIndex(s); i < len(v.pmas) && v.pmas[i].start < e; i++ {
		p := &v.pmas[i]
		ms, me := max(p.start, s), min(p.end, e)
		if !b.add(ms, me, p.fr.Start+(ms-p.start), v.effective(p)) {
			return false
		}
	}
	return true
}

// mapBatch gathers the runs of one mapRangeLocked: each is a run of pages
// contiguous in the memory file with the same access, mapped (or, with no
// access, unmapped) with one call, or with one call per batch if the
// AddressSpace takes batches.
type mapBatch struct {
	mm *MemoryManager
	// as is mm's platform address space, or unmadeAS if it is not made
	// yet.
	as      platform.AddressSpace
	batcher platform.MapBatcher
	fd      int
	// The pending run [rs, re) maps file offset roff with rat, populated
	// if rpop.
	rs, re, roff uint64
	rat          usermem.AccessType
	rpop         bool
	// [ps, pe) has host memory behind every page (a fault's committed
	// window): runs inside it are mapped populated.
	ps, pe uint64
	// runs are the finished runs not sent yet (batcher only): n of
	// mm.mapBuf, which the batch borrows.
	runs *[platform.MaxBatch]platform.Mapping
	n    int
}

func (b *mapBatch) init(mm *MemoryManager) {
	b.mm, b.fd, b.as = mm, mm.mf.FD(), mm.as
	if b.as == nil {
		b.as = unmadeAS{}
	}
	if b.batcher, _ = b.as.(platform.MapBatcher); b.batcher != nil {
		b.runs = &mm.mapBuf
	}
}

// add extends the pending run with [s, e) at file offset off with at, or
// ends it and starts another. It returns false if a mapping failed.
func (b *mapBatch) add(s, e, off uint64, at usermem.AccessType) bool {
	pop := at.Any() && b.ps <= s && e <= b.pe
	if b.re != b.rs && s == b.re && at == b.rat && pop == b.rpop && (!at.Any() || off == b.roff+(b.re-b.rs)) {
		b.re = e
		return true
	}
	if !b.endRun() {
		return false
	}
	b.rs, b.re, b.roff, b.rat, b.rpop = s, e, off, at, pop
	return true
}

// endRun sends the pending run, or queues it for the batch.
func (b *mapBatch) endRun() bool {
	if b.re == b.rs {
		return true
	}
	rs, re := b.rs, b.re
	b.rs, b.re = 0, 0
	if b.rat.Any() {
		b.mm.losePatchTableLocked(rs, re)
	}
	run := platform.Mapping{Addr: rs, Off: b.roff, Length: re - rs, FD: b.fd, Access: b.rat, Populate: b.rpop}
	if b.batcher == nil {
		return b.mapOne(&run)
	}
	if b.n == len(b.runs) && !b.send() {
		return false
	}
	b.runs[b.n] = run
	b.n++
	return true
}

// mapOne maps (or, with no access, unmaps) one run with its own call.
func (b *mapBatch) mapOne(r *platform.Mapping) bool {
	if r.Access.Any() {
		return b.as.MapFile(r.Addr, r.FD, r.Off, r.Length, r.Access) == nil
	}
	return b.as.Unmap(r.Addr, r.Length) == nil
}

// send sends the queued runs: one alone with its own call.
func (b *mapBatch) send() bool {
	n := b.n
	b.n = 0
	switch n {
	case 0:
		return true
	case 1:
		if !b.runs[0].Populate {
			return b.mapOne(&b.runs[0])
		}
	}
	return b.batcher.MapFiles(b.runs[:n]) == nil
}

// flush ends the pending run and sends everything queued.
func (b *mapBatch) flush() bool {
	return b.endRun() && b.send()
}

// remapLocked brings the AddressSpace in step with the pmas of v in
// [s, e) after v's permissions changed.
func (mm *MemoryManager) remapLocked(v *vma, s, e uint64) {
	mm.layoutGen++
	mm.mapRangeLocked(v, s, e)
}

// populateLocked faults in every page of [start, end) that is mapped and
// accessible (MAP_POPULATE, MADV_POPULATE_*, the loader's Precommit),
// breaking COW if write is set, and maps it. It stops at the first page it
// cannot fill and returns that page's fault result.
func (mm *MemoryManager) populateLocked(start, end uint64, write bool) faultResult {
	cur := start
	for cur < end {
		v := mm.findVMALocked(cur)
		if v == nil {
			return faultMapErr
		}
		if !v.perms.Any() || (write && !v.perms.Write) {
			return faultAccErr
		}
		segEnd := min(v.end, end)
		for cur < segEnd {
			p := v.findPMA(cur)
			if p == nil {
				size := uint64(populateWindow)
				if v.mappable != nil {
					size = 1 << 20
				}
				s, e, _, res := mm.fillLocked(v, cur, size)
				if res != faultOK {
					return res
				}
				if write {
					for a := s; a < e; {
						if res := mm.breakCOWLocked(v, a); res != faultOK {
							return res
						}
						a = v.findPMA(a).end
					}
				}
				// Committed first, so that the host's page tables
				// can be filled too (Populate): the application asked
				// for no faults later.
				if !mm.commitLocked(v, s, min(e, segEnd)) {
					return faultOOM
				}
				mm.mapRangePopLocked(v, s, min(e, segEnd), true)
				cur = e
				continue
			}
			if write && p.cow {
				if res := mm.breakCOWLocked(v, cur); res != faultOK {
					return res
				}
				p = v.findPMA(cur)
			}
			if !mm.commitLocked(v, cur, min(p.end, segEnd)) {
				return faultOOM
			}
			cur = p.end
		}
	}
	return faultOK
}

// commitLocked gives the pages of v's pmas in [s, e) host memory now, as
// populating asks: a pma's memory-file range has none until the
// application first touches it through the host mapping. It reports
// false if the host has no memory to give.
func (mm *MemoryManager) commitLocked(v *vma, s, e uint64) bool {
	for i := v.pmaIndex(s); i < len(v.pmas) && v.pmas[i].start < e; i++ {
		p := &v.pmas[i]
		a, b := max(p.start, s), min(p.end, e)
		if mm.mf.Commit(p.fileRange(a, b)) != nil {
			return false
		}
	}
	return true
}

// faultForCopyLocked makes the page at addr accessible to the sentry for a
// read or (if write) a write, allocating or copying as needed.
func (mm *MemoryManager) faultForCopyLocked(addr uint64, write, force bool) bool {
	v := mm.vmaForFaultLocked(addr)
	if v == nil || !v.allows(write, force) {
		return false
	}
	if v.findPMA(addr) == nil {
		if _, _, _, res := mm.fillLocked(v, addr, 0); res != faultOK {
			return false
		}
	}
	if write {
		return mm.breakCOWLocked(v, addr) == faultOK
	}
	return true
}

// sharedAnon backs a MAP_SHARED|MAP_ANONYMOUS mapping: one range of memory
// shared by all its mappers (including across Fork). Pages are allocated
// lazily in anonFaultWindow chunks.
type sharedAnon struct {
	mf   *memfile.MemoryFile
	size uint64 // page-aligned

	mu     sync.Mutex
	chunks map[uint64]memfile.Range
	users  int
}

func newSharedAnon(mf *memfile.MemoryFile, size uint64) *sharedAnon {
	return &sharedAnon{mf: mf, size: size, chunks: make(map[uint64]memfile.Range)}
}

// Translate implements memmap.Mappable.
func (s *sharedAnon) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	if off >= s.size || maxLen == 0 {
		return memfile.Range{}, memmap.ErrBeyondEOF
	}
	ci := off / anonFaultWindow
	cs := ci * anonFaultWindow
	ce := min(cs+anonFaultWindow, s.size)
	s.mu.Lock()
	defer s.mu.Unlock()
	fr, ok := s.chunks[ci]
	if !ok {
		var err error
		if fr, err = s.mf.Allocate(ce - cs); err != nil {
			return memfile.Range{}, err
		}
		s.chunks[ci] = fr
	}
	end := ce
	if maxLen < end-off {
		end = off + usermem.PageRoundDown(maxLen)
		if end == off {
			end = off + usermem.PageSize
		}
	}
	sub := memfile.Range{Start: fr.Start + (off - cs), End: fr.Start + (end - cs)}
	s.mf.IncRef(sub)
	return sub, nil
}

// PunchHole implements HolePuncher: the pages of [off, off+length) read as
// zero for every mapper at once, since they all map the same pages.
func (s *sharedAnon) PunchHole(off, length uint64) error {
	end := min(off+length, s.size)
	s.mu.Lock()
	defer s.mu.Unlock()
	for ci, fr := range s.chunks {
		cs := ci * anonFaultWindow
		ps, pe := max(cs, off), min(cs+fr.Length(), end)
		if ps >= pe {
			continue
		}
		if err := s.mf.Decommit(memfile.Range{Start: fr.Start + (ps - cs), End: fr.Start + (pe - cs)}); err != nil {
			return err
		}
	}
	return nil
}

// hold counts the vmas that refer to s; the last one frees the memory.
func (s *sharedAnon) hold(inc bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inc {
		s.users++
		return
	}
	s.users--
	if s.users == 0 {
		for ci, fr := range s.chunks {
			s.mf.DecRef(fr)
			delete(s.chunks, ci)
		}
	}
}

// unmadeAS stands in for the platform address space of a deferred
// MemoryManager not activated yet: nothing has run in it, so keeping the
// host's mappings in step with the pmas (a populate, an mprotect, the
// loader's writes) has nothing to do, and once it is made the first
// faults map what the application touches.
type unmadeAS struct{}

func (unmadeAS) MapFile(uint64, int, uint64, uint64, usermem.AccessType) error { return nil }
func (unmadeAS) Unmap(uint64, uint64) error                                    { return nil }
func (unmadeAS) Release()                                                      {}
