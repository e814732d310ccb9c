// Package mm owns application address spaces: a MemoryManager records what
// the application mapped (vmas) and which ranges of the memory file really
// back it (pmas), fills pmas in lazily on faults, shares them copy-on-write
// across Fork, keeps the platform AddressSpace in step with them, and lets
// the sentry copy to and from application memory through its own mapping of
// the memory file.
//
// # Locking
//
// MemoryManager.mu (a sync.RWMutex) protects the vmas, the pmas and the
// brk/mmap settings. Readers (the copy fast paths, MapsText, MinCore) take it
// for reading; everything that changes vmas or pmas, including fault
// handling, takes it for writing. Lock order:
//
//	MemoryManager.mu
//	  → locks inside Mappable.Translate and MMapOpts.Hold (called with mu held;
//	    they must not call back into the MemoryManager)
//	  → the platform AddressSpace's own serialisation (MapFile/Unmap are
//	    called with mu held)
//	  → memfile.MemoryFile's internal lock (a leaf)
//	  → a Mappable's memmap.FaultHistory (a leaf)
//
// # Faults
//
// Every fault is a platform round trip, and every change of the
// AddressSpace a request to it, so a fault fills and maps more than its
// page, in one batch (mapBatch): its fault-around window (anonFaultWindow,
// fileFaultWindow); in a file's vma, the window's part of the file's
// neighbouring vmas (a library's headers, text, constants and data) and
// the windows earlier mappers of the file faulted on (memmap.FaultHistory);
// for a write to copy-on-write pages, the cowWindow around it, or a run
// twice the last one when writes go page after page (cowRangeLocked).
// Fork, exec (PrefaultExec) and brk map what the program touches next
// before it runs.
//
// # Invariant between pmas and the AddressSpace
//
// For every page, the AddressSpace either maps nothing or maps exactly the
// pma's memory-file page with the pma's effective permissions (the vma's
// permissions, without write while the pma is copy-on-write). Every change
// of a pma or of a vma's permissions updates the AddressSpace before mu is
// released. This is what lets HandleFault interpret the ptrace platform's
// imprecise fault reports. The one exception is a parked range (park.go):
// pages munmap removed, which have no pma, still mapped without access to
// be taken back by the next anonymous mapping there.
package mm

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

const (
	// anonFaultWindow is how much private anonymous memory one fault
	// allocates and maps (aligned, clipped to the vma and to existing pmas).
	anonFaultWindow = 2 << 20
	// fileFaultWindow is how much of a file one fault translates and maps.
	fileFaultWindow = 256 << 10
	// cowWindow is how much one copy-on-write break copies.
	cowWindow = 64 << 10
	// maxCOWRun bounds one copy-on-write break of a run of breaks, each
	// at the page after the last (cowRangeLocked).
	maxCOWRun = 1 << 20
	// populateWindow bounds one step of MAP_POPULATE.
	populateWindow = 32 << 20

	// stackGuardGap is Linux's stack_guard_gap: a growsdown vma keeps this
	// much free space below it, and may not grow closer to the vma below.
	stackGuardGap = 256 * usermem.PageSize
	// defaultStackLimit is the default RLIMIT_STACK.
	defaultStackLimit = 8 << 20
	// mmapBaseGap is the space left below MaxUserAddress for the stack by
	// the default mmap base (Linux's minimum gap).
	mmapBaseGap = 128 << 20
)

// MemoryManager is one application address space. It is shared by every
// task (thread) that uses it; all methods are safe for concurrent use.
type MemoryManager struct {
	// Immutable after creation.
	p       platform.Platform
	mf      *memfile.MemoryFile
	minAddr uint64
	maxAddr uint64

	// as is the platform address space. A MemoryManager from
	// NewDeferredMemoryManager has none until Activate makes it; until
	// then it has one goroutine (its creator's) and is unpublished, so as
	// needs no lock; it is immutable once made.
	as platform.AddressSpace

	// users counts IncUsers references; Release of the last one destroys
	// the address space.
	users atomic.Int32

	// mu protects everything below; see the package comment for the lock
	// order.
	mu sync.RWMutex

	// vmas is sorted by start; vmas do not overlap and are never empty.
	vmas []*vma

	// brkStart and brk are the initial and current program break.
	brkStart, brk uint64
	// dataLimit bounds brk-brkStart (RLIMIT_DATA); 0 means unlimited.
	dataLimit uint64
	// mmapBase is the top of the area searched for mmap without a hint.
	mmapBase uint64
	// stackLimit is RLIMIT_STACK, bounding growsdown vmas.
	stackLimit uint64
	// asLimit is RLIMIT_AS: mmap, brk and mremap may not grow the total
	// size of the vmas beyond it; 0 means unlimited.
	asLimit uint64

	// mapBuf holds the runs of a mapRangeLocked for an AddressSpace that
	// takes batches (mapBatch); written with mu held for writing, as
	// every caller of mapRangeLocked does.
	mapBuf [platform.MaxBatch]platform.Mapping
	// cowOld keeps the array of the pages a COW break replaced, until
	// the host maps the copies (copyCOWLocked); written with mu held for
	// writing.
	cowOld []memfile.Range
	// The last copy-on-write break (cowRangeLocked): it was in cowVMA,
	// which is only compared, never used (it may be gone), copied up to
	// cowRun bytes, and its copies ended at cowNext (copyCOWLocked).
	// Written with mu held for writing.
	cowVMA          *vma
	cowNext, cowRun uint64

	// hints are the pages this process' forked children faulted on
	// first, made by its first Fork; parentHints the parent's, where a
	// forked child records its first hintsLeft faults (see forkHints).
	hints, parentHints *forkHints
	hintsLeft          int

	// lastSpurious is HandleFault's record of the last spurious fault (a
	// thread's own is in its SpuriousFault).
	lastSpurious SpuriousFault
	// parked are the ranges munmap parked (park.go), oldest first, and
	// parkedBytes their size. Protected by mu.
	parked      []parkedRange
	parkedBytes uint64

	// layoutGen counts changes of what the host has (or should have)
	// mapped: COW marking at fork, protection changes, unmaps, COW breaks,
	// take-overs. A spurious fault is judged real only when the same
	// thread faults on the same page again with no such change in between
	// (handleFaultLocked). Protected by mu.
	layoutGen uint64

	// What /proc/[pid]/{cmdline,environ,auxv} show.
	argvStart, argvEnd, envStart, envEnd uint64
	auxv                                 []uint64
}

// NewMemoryManager returns an empty address space with one user.
func NewMemoryManager(p platform.Platform, mf *memfile.MemoryFile) (*MemoryManager, error) {
	mm := NewDeferredMemoryManager(p, mf)
	if err := mm.Activate(); err != nil {
		return nil, err
	}
	return mm, nil
}

// NewDeferredMemoryManager returns an empty address space with one user
// whose platform address space (a stub process on systrap and ptrace) is
// made only by Activate, which may fail. execve uses it: a shell's PATH
// search makes an execve per directory, most failing before the program
// is even found (`python3 -c pass` through pyenv's shims, 40 shell
// processes, made 309 address spaces for 79 programs). Until it is
// activated the MemoryManager must stay with the goroutine that made it,
// and no Context may run in it.
func NewDeferredMemoryManager(p platform.Platform, mf *memfile.MemoryFile) *MemoryManager {
	mm := &MemoryManager{
		p:          p,
		mf:         mf,
		minAddr:    usermem.PageRoundDown(p.MinUserAddress() + usermem.PageMask),
		maxAddr:    usermem.PageRoundDown(p.MaxUserAddress()),
		stackLimit: defaultStackLimit,
	}
	if mm.maxAddr > mmapBaseGap && mm.maxAddr-mmapBaseGap > mm.minAddr {
		mm.mmapBase = mm.maxAddr - mmapBaseGap
	} else {
		mm.mmapBase = mm.maxAddr
	}
	mm.users.Store(1)
	return mm
}

// Activate makes the platform address space if it is not made yet.
func (mm *MemoryManager) Activate() error {
	if mm.as != nil {
		return nil
	}
	as, err := mm.p.NewAddressSpace()
	if err != nil {
		return err
	}
	mm.as = as
	if ta, ok := as.(textAccessor); ok {
		ta.SetTextAccess(mm.CopyInForce, mm.PatchText)
	}
	// Map what is in memory already (the pages the loader wrote: the
	// stack's strings and vectors, the data segment's edge) in one batch,
	// which the program's first instructions would otherwise fault in,
	// one platform round trip each.
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var b mapBatch
	b.init(mm)
	for _, v := range mm.vmas {
		if !b.addRange(v, v.start, v.end) {
			break
		}
	}
	b.flush() // a failure here only leaves faults to map it
	return nil
}

// execPrefaultMax bounds the writable vmas PrefaultExec fills.
const execPrefaultMax = 64 << 10

// PrefaultExec fills, in a new image not running yet (before Activate,
// which then maps it in its one batch), what a program's first
// instructions touch: the fault window around entry (the program's, or its
// interpreter's, entry point), and every vma of at most execPrefaultMax
// bytes: a writable private one (a data segment and its bss, the
// interpreter's) copied as a write would, any other (an ELF header
// segment, the vDSO and its data page) as a read would; and the windows
// of the program's and its interpreter's files that earlier runs faulted
// on (memmap.FaultHistory). Each of those
// pages was a fault, a platform round trip and a map request: a static C
// program that exits at once made 14 faults, 8 of them in these. It costs
// at most the copy of a few pages the program might not have written.
// Failures only leave the pages to fault.
func (mm *MemoryManager) PrefaultExec(entry uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if v := mm.findVMALocked(entry); v != nil && v.perms.Execute && v.findPMA(entry) == nil {
		mm.fillLocked(v, entry, 0)
	}
	for _, v := range mm.vmas {
		if h := historyOf(v); h != nil && v.perms.Any() {
			mm.fillHistoryLocked(nil, v, h)
		}
		if !v.perms.Any() || v.growsDown || v.end-v.start > execPrefaultMax {
			continue
		}
		switch {
		case !v.perms.Write:
			mm.populateLocked(v.start, v.end, false)
		case v.private:
			mm.populateLocked(v.start, v.end, true)
		}
	}
}

// unmapAS removes [start, end) from the platform address space, if made
// (one not made yet has nothing mapped).
func (mm *MemoryManager) unmapAS(start, end uint64) {
	if mm.as != nil {
		mm.as.Unmap(start, end-start)
	}
}

// textAccessor is implemented by platform address spaces that patch
// application code (systrap's syscall patching): they read it and patch it
// through the memory manager.
type textAccessor interface {
	SetTextAccess(read func(addr uint64, dst []byte) (int, error), patch func(addr uint64, fn func(b []byte) bool) (bool, error))
}

// patchForker is implemented by platform address spaces whose patches of
// application code a forked address space inherits along with the memory.
type patchForker interface {
	ForkPatches(child platform.AddressSpace)
}

// AddressSpace returns the platform address space, for Context.Switch:
// nil for a deferred MemoryManager not activated yet.
func (mm *MemoryManager) AddressSpace() platform.AddressSpace { return mm.as }

// IncUsers adds a user (a task sharing the address space with CLONE_VM).
// The caller must already hold a user reference.
func (mm *MemoryManager) IncUsers() { mm.users.Add(1) }

// TryIncUsers adds a user unless the address space has already been
// released: for holders that did not own a reference (/proc/[pid]/mem
// opened while its task may be exec'ing).
func (mm *MemoryManager) TryIncUsers() bool {
	for {
		n := mm.users.Load()
		if n <= 0 {
			return false
		}
		if mm.users.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// SoleUser reports whether the caller is the address space's only user (a
// task, or a holder such as /proc/[pid]/mem). A thread that exits or
// execs then skips its clear-tid write and wake, as Linux's mm_release does
// (nobody sharing the memory is left to join it): in a forked child, the
// tid word is on a page it shares copy-on-write with its parent, and the
// write cost a copy and a platform request just before the address space
// went away.
func (mm *MemoryManager) SoleUser() bool { return mm.users.Load() == 1 }

// Release drops the caller's reference; the last one unmaps everything
// and releases the address space.
func (mm *MemoryManager) Release() {
	if mm.users.Add(-1) != 0 {
		return
	}
	// No Context may run in the address space any more: destroy it first,
	// so that no stub maps pages while they are freed.
	if mm.as != nil {
		mm.as.Release()
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for _, v := range mm.vmas {
		for i := range v.pmas {
			mm.mf.DecRef(v.pmas[i].fr)
		}
		v.pmas = nil
		mm.holdVMA(v, false)
	}
	mm.vmas = nil
	mm.releaseParkedLocked()
}

// SetMMapBase sets the top of the area used for mmap without a usable hint
// (the loader randomises it). It is clamped to the user address range.
func (mm *MemoryManager) SetMMapBase(base uint64) {
	base = usermem.PageRoundDown(base)
	if base > mm.maxAddr {
		base = mm.maxAddr
	}
	if base < mm.minAddr {
		base = mm.minAddr
	}
	mm.mu.Lock()
	mm.mmapBase = base
	mm.mu.Unlock()
}

// MMapBase returns the current mmap base.
func (mm *MemoryManager) MMapBase() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.mmapBase
}

// SetStackLimit sets RLIMIT_STACK, which bounds how far a MAP_GROWSDOWN
// vma may grow. 0 or RLIM_INFINITY means no limit.
func (mm *MemoryManager) SetStackLimit(limit uint64) {
	if limit == 0 {
		limit = ^uint64(0)
	}
	mm.mu.Lock()
	mm.stackLimit = limit
	mm.mu.Unlock()
}

// SetDataLimit sets RLIMIT_DATA as applied to brk(2): the break may not be
// moved more than limit bytes above its start. 0 or RLIM_INFINITY means no
// limit.
func (mm *MemoryManager) SetDataLimit(limit uint64) {
	if limit == ^uint64(0) {
		limit = 0
	}
	mm.mu.Lock()
	mm.dataLimit = limit
	mm.mu.Unlock()
}

// SetAddressSpaceLimit sets RLIMIT_AS: mmap, brk and mremap fail with
// ENOMEM (brk by keeping the old break) rather than grow the address space
// beyond limit bytes. RLIM_INFINITY means no limit.
func (mm *MemoryManager) SetAddressSpaceLimit(limit uint64) {
	if limit == ^uint64(0) {
		limit = 0
	}
	mm.mu.Lock()
	mm.asLimit = limit
	mm.mu.Unlock()
}

// mayExpandLocked reports whether the vmas may grow by n bytes (after
// freeing freed bytes) within RLIMIT_AS, as Linux's may_expand_vm.
//
// Preconditions: mm.mu is locked.
func (mm *MemoryManager) mayExpandLocked(n, freed uint64) bool {
	if mm.asLimit == 0 {
		return true
	}
	total := uint64(0)
	for _, v := range mm.vmas {
		total += v.end - v.start
	}
	return total-freed+n <= mm.asLimit
}

// mappedInLocked returns how many bytes of [start, end) vmas cover.
//
// Preconditions: mm.mu is locked.
func (mm *MemoryManager) mappedInLocked(start, end uint64) uint64 {
	n := uint64(0)
	for _, v := range mm.vmas {
		if v.end <= start || v.start >= end {
			continue
		}
		n += min(v.end, end) - max(v.start, start)
	}
	return n
}

// SetArgvEnv records where the loader put argv and envp strings, for
// /proc/[pid]/cmdline and environ.
func (mm *MemoryManager) SetArgvEnv(argvStart, argvEnd, envStart, envEnd uint64) {
	mm.mu.Lock()
	mm.argvStart, mm.argvEnd, mm.envStart, mm.envEnd = argvStart, argvEnd, envStart, envEnd
	mm.mu.Unlock()
}

// ArgvEnv returns what SetArgvEnv recorded.
func (mm *MemoryManager) ArgvEnv() (argvStart, argvEnd, envStart, envEnd uint64) {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.argvStart, mm.argvEnd, mm.envStart, mm.envEnd
}

// SetAuxv records the auxiliary vector the loader built.
func (mm *MemoryManager) SetAuxv(auxv []uint64) {
	c := append([]uint64(nil), auxv...)
	mm.mu.Lock()
	mm.auxv = c
	mm.mu.Unlock()
}

// Auxv returns a copy of the auxiliary vector recorded by SetAuxv.
func (mm *MemoryManager) Auxv() []uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return append([]uint64(nil), mm.auxv...)
}

// BrkStart returns the initial program break.
func (mm *MemoryManager) BrkStart() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.brkStart
}

// VirtualSize returns the total length of all vmas (VmSize).
func (mm *MemoryManager) VirtualSize() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var n uint64
	for _, v := range mm.vmas {
		n += v.end - v.start
	}
	return n
}

// ResidentSize returns the total length of all pmas (an upper bound of
// VmRSS: pmas are committed lazily by the host).
func (mm *MemoryManager) ResidentSize() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var n uint64
	for _, v := range mm.vmas {
		for i := range v.pmas {
			n += v.pmas[i].end - v.pmas[i].start
		}
	}
	return n
}

// errno helpers, so that call sites read like the kernel's.
var (
	errInval = unix.EINVAL
	errNoMem = unix.ENOMEM
	errFault = unix.EFAULT
)
