package mm

import (
	"bytes"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// accessOp is what access does with application memory.
type accessOp int

const (
	opRead accessOp = iota
	opWrite
	opZero
)

// CopyIn copies application memory at addr into dst. It returns the bytes
// copied and EFAULT if it stopped at an address that is unmapped or not
// readable. It faults pages in as needed.
func (mm *MemoryManager) CopyIn(addr uint64, dst []byte) (int, error) {
	n, err := mm.access(addr, dst, uint64(len(dst)), opRead, false)
	return int(n), err
}

// CopyInForce is CopyIn for ptrace's PEEK: it also reads mappings that are
// not readable but may be made readable (VM_MAYREAD).
func (mm *MemoryManager) CopyInForce(addr uint64, dst []byte) (int, error) {
	n, err := mm.access(addr, dst, uint64(len(dst)), opRead, true)
	return int(n), err
}

// CopyOut copies src to application memory at addr, which must be
// writable (EFAULT otherwise, after copying what it could). Copy-on-write
// pages are copied first, as on a write fault.
func (mm *MemoryManager) CopyOut(addr uint64, src []byte) (int, error) {
	n, err := mm.access(addr, src, uint64(len(src)), opWrite, false)
	return int(n), err
}

// CopyOutForce is CopyOut ignoring the lack of PROT_WRITE on private
// mappings (which get a private copy of the page), for the loader (zeroing
// the bss tail of a read-only page) and ptrace's POKE. Shared mappings
// still need PROT_WRITE.
func (mm *MemoryManager) CopyOutForce(addr uint64, src []byte) (int, error) {
	n, err := mm.access(addr, src, uint64(len(src)), opWrite, true)
	return int(n), err
}

// PatchText lets fn rewrite in place the 16 bytes of application code at
// addr (16-byte aligned), and the next 16 when they are on the same page
// (b is 32 bytes long then), in the sentry's view of the page: the platform's
// syscall patching, which stores them with one atomic 16-byte
// compare-and-swap so that threads running there see the old or the new
// code. It refuses (false, nil) anything but a private, executable,
// non-writable file mapping: anonymous memory (JIT code may rewrite it
// in place), writable or shared code. The page gets its own private copy
// first (COW broken, as for ptrace's POKETEXT). fn returns whether it
// changed the bytes; it runs with mm.mu held and must not call back (the
// platform may stop the application's threads in it meanwhile, which
// needs no lock of the memory manager).
func (mm *MemoryManager) PatchText(addr uint64, fn func(b []byte) bool) (bool, error) {
	if addr%16 != 0 {
		return false, unix.EINVAL
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	v := mm.findVMALocked(addr)
	if v == nil || !v.private || v.mappable == nil || !v.perms.Execute || v.perms.Write {
		return false, nil
	}
	if !mm.faultForCopyLocked(addr, true, true) {
		return false, unix.EFAULT
	}
	p := v.findPMA(addr)
	if p == nil || p.cow {
		return false, unix.EFAULT
	}
	// The next block too when it is on the page: a rewrite across two
	// blocks makes both steps in one call (fn starts with the first
	// block's 16 bytes either way).
	n := uint64(32)
	if addr%usermem.PageSize > usermem.PageSize-32 {
		n = 16
	}
	off := p.fr.Start + (addr - p.start)
	return fn(mm.mf.Slice(memfile.Range{Start: off, End: off + n})), nil
}

// textUnpatcher is implemented by platform address spaces that patch
// application code: before the application may write its code, the
// patches in it are undone, so that its writes never mix with them.
type textUnpatcher interface {
	UnpatchText(start, end uint64, access func(addr uint64, fn func(b []byte) bool))
}

// patchTable is implemented by platform address spaces whose patched code
// jumps through a table at a fixed address in the application's range
// (systrap's pointer table, at 2 GiB - 3.25 MiB, and its Go view, a page
// at 1.14 GiB: a brk heap of that size or a MAP_FIXED mapping may land
// there, as on Linux).
type patchTable interface {
	// LosePatchTable reports whether application memory mapped at
	// [addr, addr+length) takes the place of the table, which the
	// address space then gives up for good: no site is patched again.
	// When it returns true, the caller undoes every patch before it maps
	// the memory, or patched code would jump through the application's
	// data. Called with mm.mu locked for writing.
	LosePatchTable(addr, length uint64) bool
}

// claimPatchTableLocked is called when [start, end), which the
// AddressSpace does not map yet, becomes application memory (a new
// mapping, a grown heap or mapping, a moved one): if it covers the
// platform's patch table, the patches are undone and the table is
// unmapped, so that the program reads its own memory there at once, not
// the table's. (Memory faulted in there meets losePatchTableLocked in
// mapRangeLocked.)
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) claimPatchTableLocked(start, end uint64) {
	if mm.losePatchTableLocked(start, end) {
		mm.unmapAS(start, end)
	}
}

// losePatchTableLocked undoes every patch, the first time application
// memory at [start, end) takes the place of the platform's patch table,
// and reports whether it did.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) losePatchTableLocked(start, end uint64) bool {
	pt, ok := mm.as.(patchTable)
	if !ok || !pt.LosePatchTable(start, end-start) {
		return false
	}
	mm.unpatchAllLocked()
	return true
}

// unpatchAllLocked has the platform undo its patches in every mapping.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) unpatchAllLocked() {
	for _, v := range mm.vmas {
		mm.unpatchTextLocked(v)
	}
}

// unpatchTextLocked has the platform undo its patches in v, which is
// about to become writable.
//
// Preconditions: mm.mu is locked for writing.
func (mm *MemoryManager) unpatchTextLocked(v *vma) {
	up, ok := mm.as.(textUnpatcher)
	if !ok || !v.private || v.mappable == nil {
		return
	}
	up.UnpatchText(v.start, v.end, func(addr uint64, fn func(b []byte) bool) {
		p := v.findPMA(addr)
		if p == nil || addr%16 != 0 {
			return // not in memory: the file's bytes, unpatched
		}
		if p.cow {
			if mm.breakCOWLocked(v, addr) != faultOK {
				return
			}
			if p = v.findPMA(addr); p == nil || p.cow {
				return
			}
		}
		off := p.fr.Start + (addr - p.start)
		fn(mm.mf.Slice(memfile.Range{Start: off, End: off + 16}))
	})
}

// ZeroOut writes n zero bytes at addr.
func (mm *MemoryManager) ZeroOut(addr, n uint64) (int, error) {
	done, err := mm.access(addr, nil, n, opZero, false)
	return int(done), err
}

// ZeroOutForce is ZeroOut with CopyOutForce's permission rules.
func (mm *MemoryManager) ZeroOutForce(addr, n uint64) (int, error) {
	done, err := mm.access(addr, nil, n, opZero, true)
	return int(done), err
}

// CopyInString reads a NUL-terminated string of at most maxLen bytes
// (excluding the NUL); ENAMETOOLONG if there is no NUL within maxLen.
func (mm *MemoryManager) CopyInString(addr uint64, maxLen int) (string, error) {
	if maxLen < 0 {
		maxLen = 0
	}
	var buf [256]byte
	var acc []byte
	limit := uint64(maxLen) + 1 // bytes to read, including the NUL
	for done := uint64(0); done < limit; {
		chunk := buf[:min(uint64(len(buf)), limit-done)]
		n, err := mm.access(addr+done, chunk, uint64(len(chunk)), opRead, false)
		if i := bytes.IndexByte(chunk[:n], 0); i >= 0 {
			if acc == nil {
				return string(chunk[:i]), nil
			}
			return string(append(acc, chunk[:i]...)), nil
		}
		if err != nil {
			return "", err
		}
		acc = append(acc, chunk[:n]...)
		done += n
		if addr+done < addr {
			return "", unix.EFAULT
		}
	}
	return "", unix.ENAMETOOLONG
}

// access reads, writes or zeroes n bytes of application memory at addr
// through the sentry's mapping of the memory file. It returns the bytes
// done, and EFAULT if it stopped early.
//
// The fast path, when the pmas exist and allow the access, holds mu for
// reading and makes no syscall and no allocation.
func (mm *MemoryManager) access(addr uint64, buf []byte, n uint64, op accessOp, force bool) (uint64, error) {
	if n == 0 {
		return 0, nil
	}
	write := op != opRead
	var done uint64
	exclusive := false
	mm.mu.RLock()
	for done < n {
		a := addr + done
		if a < addr {
			break // wrapped around
		}
		v := mm.findVMALocked(a)
		if v != nil && !v.allows(write, force) {
			break
		}
		var p *pma
		if v != nil {
			p = v.findPMA(a)
		}
		if p == nil || (write && p.cow) {
			if !exclusive {
				mm.mu.RUnlock()
				mm.mu.Lock()
				exclusive = true
				continue // things may have changed; look again
			}
			if !mm.faultForCopyLocked(a, write, force) {
				break
			}
			continue
		}
		cnt := min(p.end-a, n-done)
		off := p.fr.Start + (a - p.start)
		s := mm.mf.Slice(memfile.Range{Start: off, End: off + cnt})
		switch op {
		case opRead:
			copy(buf[done:], s)
		case opWrite:
			copy(s, buf[done:])
		case opZero:
			clear(s)
		}
		done += cnt
	}
	if exclusive {
		mm.mu.Unlock()
	} else {
		mm.mu.RUnlock()
	}
	if done < n {
		return done, unix.EFAULT
	}
	return done, nil
}
