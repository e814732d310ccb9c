package mm

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

// LoadUint32 atomically reads the 32-bit word at addr, which must be
// 4-byte aligned, faulting its page in if needed. It returns EFAULT if
// addr is not readable.
//
// The futex code uses it (rather than CopyIn) where the read must not be
// torn by a concurrent atomic update from application code.
func (mm *MemoryManager) LoadUint32(addr uint64) (uint32, error) {
	if addr&3 != 0 {
		return 0, unix.EINVAL
	}
	mm.mu.RLock()
	if p := mm.wordLocked(addr, false); p != nil {
		v := atomic.LoadUint32(p)
		mm.mu.RUnlock()
		return v, nil
	}
	mm.mu.RUnlock()
	mm.mu.Lock()
	defer mm.mu.Unlock()
	p := mm.faultWordLocked(addr, false)
	if p == nil {
		return 0, unix.EFAULT
	}
	return atomic.LoadUint32(p), nil
}

// CompareAndSwapUint32 atomically replaces the 32-bit word at addr with
// new if it holds old, and returns the value it held (old on success).
// addr must be 4-byte aligned and writable (EFAULT otherwise); a
// copy-on-write page is copied first.
//
// Application threads update futex words with atomic instructions on the
// same memory-file pages through their own mappings, so this is atomic
// with respect to them too.
func (mm *MemoryManager) CompareAndSwapUint32(addr uint64, old, new uint32) (uint32, error) {
	if addr&3 != 0 {
		return 0, unix.EINVAL
	}
	mm.mu.RLock()
	if p := mm.wordLocked(addr, true); p != nil {
		v := cas(p, old, new)
		mm.mu.RUnlock()
		return v, nil
	}
	mm.mu.RUnlock()
	mm.mu.Lock()
	defer mm.mu.Unlock()
	p := mm.faultWordLocked(addr, true)
	if p == nil {
		return 0, unix.EFAULT
	}
	return cas(p, old, new), nil
}

// cas is a compare-and-swap that returns the previous value.
func cas(p *uint32, old, new uint32) uint32 {
	for {
		if atomic.CompareAndSwapUint32(p, old, new) {
			return old
		}
		if cur := atomic.LoadUint32(p); cur != old {
			return cur
		}
		// The word changed and changed back between the two
		// operations; try again.
	}
}

// wordLocked returns the sentry's pointer to the aligned word at addr if
// it is backed by a pma that allows the access, or nil if a fault is
// needed (or impossible). The pointer is valid while mm.mu is held.
//
// Preconditions: mm.mu is locked (for reading or writing); addr is 4-byte
// aligned.
func (mm *MemoryManager) wordLocked(addr uint64, write bool) *uint32 {
	v := mm.findVMALocked(addr)
	if v == nil || !v.allows(write, false) {
		return nil
	}
	p := v.findPMA(addr)
	if p == nil || (write && p.cow) {
		return nil
	}
	off := p.fr.Start + (addr - p.start)
	s := mm.mf.Slice(memfile.Range{Start: off, End: off + 4})
	if len(s) != 4 {
		return nil
	}
	return (*uint32)(unsafe.Pointer(&s[0]))
}

// faultWordLocked is wordLocked after faulting the page in (and breaking
// copy-on-write for a write); nil means EFAULT.
//
// Preconditions: mm.mu is locked for writing; addr is 4-byte aligned.
func (mm *MemoryManager) faultWordLocked(addr uint64, write bool) *uint32 {
	if p := mm.wordLocked(addr, write); p != nil {
		return p
	}
	if !mm.faultForCopyLocked(addr, write, false) {
		return nil
	}
	return mm.wordLocked(addr, write)
}
