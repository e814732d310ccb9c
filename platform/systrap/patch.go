//go:build linux && amd64

package systrap

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// Syscall patching (see README.md, "Syscall patching").
//
// A site "mov $NR, %eax; syscall" (b8 imm32 0f 05) whose syscall trapped is
// rewritten in place, once, into "jmp *PTR" (ff 24 25 disp32) where PTR is
// the site's entry in the pointer table, mapped read-only at ptrTableAddr
// in every stub. The entry points to the site's thunk in the stub image
// ("mov $index, %eax; jmp patch_entry"); the trampoline saves the
// registers in the thread's state page, found through the gs base, and
// parks in the same code as the signal handler. The sentry keeps each
// site's number and return address itself (patcher.sites): nothing it
// trusts is in memory the application can write.
//
// Byte 5 of the new instruction, where the old syscall began, is 0xcc,
// int3: a jump to the old syscall (a restarted syscall, rip-2, is one)
// traps with SIGTRAP there, which the platform turns into that syscall.
// (It was 0x06, an invalid opcode; but in a VM a #UD is a VM exit, 13 µs
// here against 1.7 µs for an int3.)
//
// A dynamic site, "mov 0x8(%rsp), %r9; syscall" (4c 8b 4c 24 08 0f 05:
// glibc's syscall(2), whose number comes in rax), is patched the same way
// to a thunk of its own kind (stub.S dyn_thunk) with an index from
// maxSites on; the sentry records dynNR as its number and takes the number
// the thunk stored in the state page (tNR).
//
// A Go site is Go's internal/runtime/syscall.Syscall6, the path of every
// syscall of Go's syscall and os packages (read, write, openat, ...):
// "mov %rsi, %r10; mov %rdi, %rdx; mov %rcx, %rsi; mov %rbx, %rdi;
// syscall" (goSiteBytes), number in rax. Its last 7 bytes are too short a
// pattern to trust, and its movs may be jumped to or interrupted between.
// So only its first 3 bytes change, into "jmp *disp32" (ff 24 25): the 4
// bytes after them, the start of its second and third movs (48 89 fa 48),
// become the displacement, goDisp, and every instruction boundary after
// the first still holds the original code. The pointer there is in the Go
// view, a read-only page mapped at goViewAddr in every stub from the
// pointer table's page that holds entry goSite (at goDisp's offset in its
// page); it points to the Go thunk, which runs the site's movs and then
// the dynamic thunks' body (stub.S dyn_thunk_body) with index goSite.
// Every Go site has the same bytes, so an address space patches one (a Go
// program has one Syscall6); the sentry records goNR as its number and
// takes the number from tNR, as for a dynamic site.

const (
	// maxSites is how many "mov $NR, %eax" sites one address space can
	// patch, maxDynSites how many dynamic ones (indices maxSites on).
	maxSites    = 4096
	maxDynSites = 256
	allSites    = maxSites + maxDynSites
	// thunkSize is the size of one thunk, dynThunkSize of a dynamic one;
	// thunksOff and thunksSize place them in the stub image, the dynamic
	// ones after the others (dynThunksOff).
	thunkSize    = 16
	dynThunkSize = 64
	thunksOff    = stubBinSize
	dynThunksOff = thunksOff + maxSites*thunkSize
	goThunkOff   = dynThunksOff + maxDynSites*dynThunkSize
	thunksSize   = maxSites*thunkSize + maxDynSites*dynThunkSize + pageSize
	// dynNR is the number recorded for a dynamic site, goNR for the Go
	// site (above any real one: maybePatch takes numbers below goNR only).
	dynNR = 1<<16 - 1
	goNR  = 1<<16 - 2

	// goDisp is the displacement a patched Go site jumps through: bytes
	// 3-6 of goSiteBytes. goViewAddr is the Go view's page.
	goDisp     = 0x48fa8948
	goViewAddr = goDisp &^ (pageSize - 1)
	// goSite is the Go site's index, the first from allSites on whose
	// pointer table entry is at goDisp's offset in its page (goSlot),
	// where the Go view's jump reads. The indices between have no thunk.
	goSlot = goDisp % pageSize / 8
	goSite = (allSites-goSlot+pageSize/8-1)/(pageSize/8)*(pageSize/8) + goSlot
	// goSiteLen is the length of a Go site, goSiteBytes.
	goSiteLen = 14

	// ptrTableAddr is where the pointer table is mapped in every stub:
	// below 2 GiB (disp32 is sign-extended) and such that byte 2 of every
	// entry's address, byte 5 of the patched instruction, is 0xcc.
	ptrTableAddr = 0x7fcc0000
	ptrTableLen  = (goSite + 1) * 8
	// ptrTableEnd is the end of the pointer table's pages.
	ptrTableEnd = ptrTableAddr + (ptrTableLen+pageSize-1)&^(pageSize-1)
	// ptrTableFileOff is the pointer table's offset in the shared file:
	// in slot 0 of the pre-made stub's region, which is at offset 0, after
	// its request and response pages. goViewFileOff is the page of it
	// with entry goSite, which the Go view maps.
	ptrTableFileOff = 2 * pageSize
	goViewFileOff   = ptrTableFileOff + goSite*8 - goDisp%pageSize

	// maxTried bounds the sites an address space remembers as tried.
	maxTried = 4 * allSites
	// siteRetMask extracts the return address from a sites entry; the
	// syscall number is above it. siteReverted, a bit no user address
	// has, marks a site whose code was restored (revert).
	siteRetBits  = 48
	siteRetMask  = 1<<siteRetBits - 1
	siteReverted = 1 << 47

	// A site whose syscalls keep leaving the trampoline is reverted: the
	// thread saw trapOutRun trap outs in a row after an event of that
	// site, each with at most trapOutGap patched events since the one
	// before (see noteTrapOut).
	trapOutRun = 32
	trapOutGap = 2
)

// writeThunks fills dst (thunksSize bytes at base+thunksOff) with the
// thunks: "mov $i, %eax; jmp patch_entry", padded with int3, then the
// dynamic thunks: copies of stub.S's dyn_thunk, with their index and their
// jump to patch_checked set, then the Go thunk: the same with the Go
// site's movs in place of dyn_thunk's own mov.
func writeThunks(dst []byte, base uint64) {
	le := binary.LittleEndian
	for i := range dst {
		dst[i] = 0xcc
	}
	for i := 0; i < maxSites; i++ {
		t := dst[i*thunkSize : (i+1)*thunkSize]
		t[0] = 0xb8
		le.PutUint32(t[1:], uint32(i))
		t[5] = 0xe9
		from := base + thunksOff + uint64(i*thunkSize) + 10
		le.PutUint32(t[6:], uint32(base+offPatchEntry-from))
	}
	for i := maxSites; i < allSites; i++ {
		writeDynThunk(dst, base, i, stubBin[offDynThunk:offDynThunkBody])
	}
	writeDynThunk(dst, base, goSite, goSiteBytes[:goMovsLen])
}

// writeDynThunk writes site i's thunk into dst (see writeThunks): the
// site's own instructions before its syscall (pro), then dyn_thunk_body
// with index i and its jump to patch_checked.
func writeDynThunk(dst []byte, base uint64, i int, pro []byte) {
	le := binary.LittleEndian
	o := thunkAddr(0, i) - thunksOff
	t := dst[o : o+dynThunkSize]
	n := copy(t, pro)
	n += copy(t[n:], stubBin[offDynThunkBody:offDynThunkEnd])
	imm := len(pro) + offDynThunkImm - offDynThunkBody
	le.PutUint32(t[imm+1:], uint32(i))
	jmp := len(pro) + offDynThunkJmp - offDynThunkBody
	from := base + o + thunksOff + uint64(jmp+5)
	le.PutUint32(t[jmp+1:], uint32(base+offPatchChecked-from))
	// dyn_thunk_moved: mov D_MAGIC(%rip), %rax (48 8b 05 disp32).
	mov := len(pro) + offDynThunkMoved - offDynThunkBody
	from = base + o + thunksOff + uint64(mov+7)
	le.PutUint32(t[mov+3:], uint32(base+imgDataOff+dMagic-from))
}

// thunkAddr is the address of site i's thunk in a stub image at base.
func thunkAddr(base uint64, i int) uint64 {
	switch {
	case i < maxSites:
		return base + thunksOff + uint64(i*thunkSize)
	case i == goSite:
		return base + goThunkOff
	}
	return base + dynThunksOff + uint64((i-maxSites)*dynThunkSize)
}

// writePtrTable fills the pointer table: entry i is thunk i's address.
func writePtrTable(dst []byte, base uint64) {
	for i := 0; i < allSites; i++ {
		binary.LittleEndian.PutUint64(dst[i*8:], thunkAddr(base, i))
	}
	binary.LittleEndian.PutUint64(dst[goSite*8:], thunkAddr(base, goSite))
}

// goSiteBytes is a Go site, internal/runtime/syscall.Syscall6 (Go 1.21
// on): "mov %rsi, %r10; mov %rdi, %rdx; mov %rcx, %rsi; mov %rbx, %rdi;
// syscall". goMovsLen is the length of its movs.
var goSiteBytes = [goSiteLen]byte{0x49, 0x89, 0xf2, 0x48, 0x89, 0xfa, 0x48, 0x89, 0xce, 0x48, 0x89, 0xdf, 0x0f, 0x05}

const goMovsLen = goSiteLen - 2

// patchStart is where the 7 patched bytes of a site begin, given its
// return address and number: 7 bytes before it, a Go site's 14.
func patchStart(ret, nr uint64) uint64 {
	if nr == goNR {
		return ret - goSiteLen
	}
	return ret - 7
}

// dynSiteBytes is a dynamic site: "mov 0x8(%rsp), %r9; syscall".
var dynSiteBytes = [7]byte{0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}

// origBytes returns the original 7 bytes at a site's patchStart for
// syscall nr (dynNR: a dynamic site, goNR: a Go site).
func origBytes(nr uint64) [7]byte {
	switch nr {
	case dynNR:
		return dynSiteBytes
	case goNR:
		return [7]byte(goSiteBytes[:7])
	}
	b := [7]byte{0xb8, 0, 0, 0, 0, 0x0f, 0x05}
	binary.LittleEndian.PutUint32(b[1:], uint32(nr))
	return b
}

// patchedBytes returns the 7 bytes that replace site i: the Go site's
// keep their last 4.
func patchedBytes(i int) [7]byte {
	b := [7]byte{0xff, 0x24, 0x25}
	if i == goSite {
		copy(b[3:], goSiteBytes[3:7])
		return b
	}
	binary.LittleEndian.PutUint32(b[3:], uint32(ptrTableAddr+8*i))
	return b
}

// isPrefix reports whether b may be a legacy or REX prefix: a mov
// preceded by one is not "mov $imm32, %eax".
func isPrefix(b byte) bool {
	switch b {
	case 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3:
		return true
	}
	return b >= 0x40 && b <= 0x4f
}

// cas16 atomically replaces the 16 bytes at p (16-byte aligned) with new
// if they are old (LOCK CMPXCHG16B, stub_amd64.s).
//
//go:noescape
func cas16(p *byte, old, new *[16]byte) bool

// patcher is an address space's syscall patching state.
type patcher struct {
	// read and patch reach the application's memory through its memory
	// manager (mm.CopyInForce, mm.PatchText); as is the address space.
	// Immutable.
	read  func(addr uint64, dst []byte) (int, error)
	patch func(addr uint64, fn func(b []byte) bool) (bool, error)
	as    *addressSpace

	// sites holds site i's return address | its syscall number (dynNR
	// for a dynamic site, goNR for the Go site) << siteRetBits, or 0. An
	// entry is set before its site is patched and never changes
	// afterwards (unless the patch failed), but for siteReverted, set
	// once its code is restored.
	sites siteTable

	// lost is set once the application mapped memory over the pointer
	// table: no more sites are patched (maybePatch checks it again under
	// the memory manager's lock), and those patched were undone first
	// (LosePatchTable).
	lost atomic.Bool

	// mu protects tried, next and nextDyn. Lock order: patcher.mu, then
	// the memory manager's lock (patch and read take it), then
	// addressSpace.mu.
	mu sync.RWMutex
	// tried maps each site looked at to its index, -1 if it was not
	// patched, or siteSeenOnce after its first trap (see maybePatch).
	// next and nextDyn are the next free indices.
	tried         map[uint64]int32
	next, nextDyn int

	// eager patches a site at its first trap (Platform.patchEager).
	// Immutable.
	eager bool
}

// siteTable holds the patcher's site entries, indices 0 to goSite, in
// chunks made on first use. An address space patches tens to a few
// hundred sites of the thousands it may: as a flat array, each one made
// (every fork and exec) allocated and zeroed 35 KB, which a fork+exec
// loop paid for in the sentry's page faults and collections: 3% of its
// time (300 fork+execs of a static program, 12 alternated runs). The
// zero value is empty.
//
// Entries are read without locks; the writers of an entry are serialised
// by the patcher's mu (or own the table, as ForkPatches the child's).
type siteTable struct {
	chunks [goSite/siteChunkLen + 1]atomic.Pointer[siteChunk]
}

// siteChunkLen is the entries of a chunk (1 KiB).
const siteChunkLen = 128

type siteChunk [siteChunkLen]atomic.Uint64

// load returns entry i (0 <= i <= goSite).
func (st *siteTable) load(i int) uint64 {
	c := st.chunks[i/siteChunkLen].Load()
	if c == nil {
		return 0
	}
	return c[i%siteChunkLen].Load()
}

// store sets entry i (0 <= i <= goSite), making its chunk if it has none.
func (st *siteTable) store(i int, v uint64) {
	p := &st.chunks[i/siteChunkLen]
	c := p.Load()
	if c == nil {
		if v == 0 {
			return
		}
		c = new(siteChunk)
		if !p.CompareAndSwap(nil, c) {
			c = p.Load()
		}
	}
	c[i%siteChunkLen].Store(v)
}

// all yields the index and value of each entry that is not 0.
func (st *siteTable) all(yield func(int, uint64) bool) {
	for ci := range st.chunks {
		c := st.chunks[ci].Load()
		if c == nil {
			continue
		}
		for j := range c {
			if v := c[j].Load(); v != 0 && !yield(ci*siteChunkLen+j, v) {
				return
			}
		}
	}
}

// SetTextAccess gives the address space the means to read and patch
// application code; the memory manager calls it once, before the address
// space runs anything. Without it (or with patching off) no site is
// patched.
func (as *addressSpace) SetTextAccess(read func(addr uint64, dst []byte) (int, error), patch func(addr uint64, fn func(b []byte) bool) (bool, error)) {
	if !as.p.patch || as.patch != nil {
		return
	}
	as.patch = &patcher{read: read, patch: patch, as: as, tried: make(map[uint64]int32), eager: as.p.patchEager}
}

// ForkPatches gives child, a new address space whose memory is a copy of
// as's, the sites as patched so far. The memory manager calls it with its
// lock held, so no patch of as is half done.
func (as *addressSpace) ForkPatches(child platform.AddressSpace) {
	c, _ := child.(*addressSpace)
	if as.patch == nil || c == nil || c.patch == nil {
		return
	}
	c.patch.mu.Lock()
	defer c.patch.mu.Unlock()
	for i, v := range as.patch.sites.all {
		c.patch.sites.store(i, v)
		c.patch.tried[v&siteRetMask&^siteReverted-7] = int32(i)
		switch {
		case i < maxSites:
			c.patch.next = i + 1
		case i < allSites:
			c.patch.nextDyn = i - maxSites + 1
		}
	}
	if as.patch.lost.Load() {
		c.patch.lost.Store(true)
	}
}

// UnpatchText restores the original code of the sites patched in [start,
// end), which the application is about to make writable: its own writes
// there must not land on the patched bytes. access calls fn with the
// sentry's view of the 16 bytes at addr (16-byte aligned), if they are in
// memory. The memory manager calls it with its lock held.
func (as *addressSpace) UnpatchText(start, end uint64, access func(addr uint64, fn func(b []byte) bool)) {
	pt := as.patch
	if pt == nil {
		return
	}
	// looked says whether the threads were counted, at the first site
	// across two blocks; with others there, that site and the rest are
	// restored with them stopped.
	looked := false
	for i, v := range pt.sites.all {
		ret, nr := decodeSite(v)
		site := patchStart(ret, nr)
		if site < start || site >= end {
			continue
		}
		if crosses(site) && !looked {
			looked = true
			if as.threads(slotFree) > 1 {
				// Restored in two steps: with the other threads
				// out of the code (or, if one is deaf to the stop,
				// anyway: the application must find its own code
				// there).
				as.stopOthers()
				defer as.resume()
			}
		}
		restoreSite(site, i, nr, access)
	}
}

// restoreSite puts the original code of site i (for syscall nr) back
// where its blocks still hold the patch, through access (see UnpatchText);
// it reports whether every block was restored. A site across two blocks
// (see rewrite) is restored in two steps, the block with the opcode first:
// the caller keeps any other thread out of the code meanwhile
// (stopOthers).
func restoreSite(site uint64, i int, nr uint64, access func(addr uint64, fn func(b []byte) bool)) bool {
	repl, orig := patchedBytes(i), origBytes(nr)
	off := site % 16
	n := min(16-off, 7) // the site's bytes in its first block
	done := 0
	access(site&^15, swapBytes(off, repl[:n], orig[:n], &done))
	if n < 7 {
		access(site&^15+16, swapBytes(0, repl[n:], orig[n:], &done))
		return done == 2
	}
	return done == 1
}

// swapBytes returns the function that replaces from with to at offset off
// of a 16-byte block b, if b holds from there, atomically (cas16), and
// then counts one more in *done.
func swapBytes(off uint64, from, to []byte, done *int) func(b []byte) bool {
	return func(b []byte) bool {
		var old, new [16]byte
		copy(old[:], b)
		if !bytes.Equal(old[off:off+uint64(len(from))], from) {
			return false
		}
		new = old
		copy(new[off:], to)
		if !cas16(&b[0], &old, &new) {
			return false
		}
		*done++
		return true
	}
}

// patchAccess adapts pt.patch to restoreSite's access.
func (pt *patcher) patchAccess(addr uint64, fn func(b []byte) bool) {
	pt.patch(addr, fn)
}

// crosses reports whether the 7-byte site at site spans two 16-byte
// blocks.
func crosses(site uint64) bool { return site%16 > 9 }

// overlapsPtrTable reports whether [addr, addr+length) overlaps the
// pointer table's pages or the Go view.
func overlapsPtrTable(addr, length uint64) bool {
	return (addr < ptrTableAddr+ptrTableLen && addr+length > ptrTableAddr) ||
		(addr < goViewAddr+pageSize && addr+length > goViewAddr)
}

// site returns the return address and number of site i.
func (pt *patcher) site(i uint64) (ret, nr uint64, ok bool) {
	if i > goSite {
		return 0, 0, false
	}
	v := pt.sites.load(int(i))
	ret, nr = decodeSite(v)
	return ret, nr, v != 0
}

// decodeSite splits a site entry (see patcher.sites) into the site's
// return address and syscall number.
func decodeSite(v uint64) (ret, nr uint64) {
	return v & siteRetMask &^ siteReverted, v >> siteRetBits
}

// revert restores the original code of site i, for good: its syscalls
// trap again (SIGSYS), with a full signal frame. A thread that took the
// old jump meanwhile still reaches the sentry through the thunk (the
// entry stays), and one whose int3 at the old syscall trapped before the
// rewrite is still decoded (jumpedSite). The caller holds no memory
// manager lock.
func (pt *patcher) revert(i int) {
	ret, nr, ok := pt.site(uint64(i))
	if !ok || pt.sites.load(i)&siteReverted != 0 {
		return
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.restore(patchStart(ret, nr), i, nr) {
		pt.sites.store(i, pt.sites.load(i)|siteReverted)
	}
}

// restore puts the original code of site i back (restoreSite) through
// pt.patch. A site across two blocks in an address space that may have
// other threads is restored in one access to both blocks, with the other
// threads stopped; not at all if one would not stop. The caller holds
// pt.mu.
func (pt *patcher) restore(site uint64, i int, nr uint64) bool {
	if !crosses(site) || pt.as == nil || pt.as.threads(slotFree) <= 1 {
		return restoreSite(site, i, nr, pt.patchAccess)
	}
	return pt.stopped(site&^15, func(access blockAccess) bool {
		return restoreSite(site, i, nr, func(addr uint64, fn func(b []byte) bool) { access(addr, fn) })
	})
}

// noteTrapOut counts a trap out of the trampoline (leaveTrampoline) after
// a patched event of t.site. A patched syscall that leaves the trampoline
// costs a hand-off more than the trap it replaced (the trampoline's event,
// the trap's event), and on a host without free CPUs each hand-off is a
// futex wake-up: kill(getpid(), sig) with a handler, or a fork loop, was
// about twice as slow patched as not. So a site whose events keep
// needing a trap out (trapOutRun of them in a row, each within trapOutGap
// patched events of the one before) is reverted at the thread's next
// Switch (t.revert), which the memory manager's lock allows.
func (t *thread) noteTrapOut() {
	s := t.site
	if s != 0 && s == t.outSite && t.sinceOut <= trapOutGap {
		t.outRun++
	} else {
		t.outSite, t.outRun = s, 1
	}
	t.sinceOut = 0
	if s != 0 && t.outRun >= trapOutRun {
		t.revert, t.outRun = s, 0
	}
}

// siteSeenOnce marks, in patcher.tried, a site that trapped once.
const siteSeenOnce = -2

// maybePatch patches the site whose syscall instruction ends at rip, for
// syscall nr, if it is "mov $nr, %eax; syscall", a dynamic site "mov
// 0x8(%rsp), %r9; syscall" or the address space's first Go site in a
// private file mapping, not preceded by a byte that may be a prefix, and
// the 7 bytes to rewrite lie in one 16-byte block, or in two of one page
// while the address space has a single thread (see rewrite). Each site is
// looked at once (pt.tried, by rip-7), at its second trap unless
// pt.eager. rt_sigreturn is never patched: it always sets the FP state, so
// a patched one would leave the trampoline through a trap at every call, a
// hand-off more than the trap it replaces (glibc's __restore_rt is "mov
// $15, %eax; syscall").
func (pt *patcher) maybePatch(rip, nr uint64) {
	site := rip - 7
	if rip < minUserAddress+7 || rip >= maxUserAddress || pt.lost.Load() || nr == unix.SYS_RT_SIGRETURN {
		return
	}
	pt.mu.RLock()
	v, seen := pt.tried[site]
	pt.mu.RUnlock()
	if seen && v != siteSeenOnce {
		return
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	switch v, seen := pt.tried[site]; {
	case seen && v != siteSeenOnce, len(pt.tried) >= maxTried:
		return
	case !seen && !pt.eager:
		// A site is patched at its second trap: one that traps once
		// in a process (its exit_group, an execve, a fork child's
		// last syscalls) would cost a copy of its text page, a remap
		// and a pointer, and save nothing. fork_exit_wait 590-622 ->
		// 496-518 us, fork_exec_wait 2174-2227 -> 2009-2025 us
		// (alternated runs).
		pt.tried[site] = siteSeenOnce
		return
	}
	pt.tried[site] = -1
	// Which kind of site: read it (the patch below checks it again, in
	// the same atomic step as the rewrite).
	var cur [7]byte
	if n, _ := pt.read(site, cur[:]); n != len(cur) {
		return
	}
	key := site
	var i int
	switch {
	case cur == dynSiteBytes && pt.nextDyn < maxDynSites:
		i, nr = maxSites+pt.nextDyn, dynNR
	case cur == [7]byte(goSiteBytes[7:]) && pt.sites.load(goSite) == 0:
		// The movs before: the site starts 7 bytes further back.
		site = rip - goSiteLen
		var b [goSiteLen]byte
		if n, _ := pt.read(site, b[:]); n != goSiteLen || b != goSiteBytes {
			return
		}
		i, nr = goSite, goNR
	case nr < goNR && cur == origBytes(nr) && pt.next < maxSites:
		i = pt.next
	default:
		return
	}
	// The 7 bytes to rewrite on one page (see rewrite).
	if crosses(site) && site%pageSize >= pageSize-7 {
		return
	}
	if site%16 == 0 {
		var b [1]byte
		if n, _ := pt.read(site-1, b[:]); n != 1 || isPrefix(b[0]) {
			return
		}
	}
	// The entry is published before any thread can take the new jump.
	pt.sites.store(i, rip|nr<<siteRetBits)
	if !pt.rewrite(site, origBytes(nr), patchedBytes(i)) {
		pt.sites.store(i, 0)
		return
	}
	pt.tried[key] = int32(i)
	switch {
	case i < maxSites:
		pt.next++
	case i < allSites:
		pt.nextDyn++
	}
}

// rewrite replaces the 7 bytes at site, from with to, each block in one
// atomic step (cas16) that also checks that they still hold from, that
// the byte before the site, when in the same block, is no prefix, and
// that the pointer table was not lost meanwhile. The caller holds pt.mu.
//
// A site in one 16-byte block takes one step, and so does a Go site whose
// first 3 bytes, the only ones its patch changes, are in one. A site
// across two blocks (about a quarter of glibc's sites) takes two, and a
// thread running there between them could decode a mix of old and new
// bytes. So it is rewritten in two steps only while the address space
// has a single thread, the one that trapped here and waits in the sentry;
// none can appear meanwhile (a new one needs a clone by this one, and
// reserves its slot first). With other threads, stopped keeps them out of
// application code for the two steps. The second block, whose
// bytes are the jump's displacement, is written first; the block with the
// opcode last. Both must be on one page (maybePatch checks: the memory
// manager's unpatching goes page by page).
func (pt *patcher) rewrite(site uint64, from, to [7]byte) bool {
	off := site % 16
	isGo := from == origBytes(goNR)
	// A Go site's patch changes its first 3 bytes alone (the rest of
	// patchedBytes is the site's own): one step when they are in the
	// first block, however many threads run.
	if one := !crosses(site) || (isGo && off <= 13); one || (pt.as != nil && pt.as.threads(slotFree) == 1) {
		return pt.rewriteBlocks(site, from, to, one, pt.patchBlock)
	}
	// Other threads: stopped for the two steps. Not for a Go site whose first 3
	// bytes span the blocks: its movs leave instruction boundaries
	// inside its first 7 bytes where a stopped thread may be (a standard
	// or dynamic site has one only at its old syscall, which the patch
	// makes an int3: jumpedSite).
	if pt.as == nil || isGo {
		return false
	}
	return pt.stopped(site-off, func(access blockAccess) bool {
		return pt.rewriteBlocks(site, from, to, false, access)
	})
}

// rewriteBlocks makes rewrite's steps through access: the site's bytes in
// its first block alone if one, else the second block first and the
// first last, putting the second back if the first fails.
func (pt *patcher) rewriteBlocks(site uint64, from, to [7]byte, one bool, access blockAccess) bool {
	off := site % 16
	n := min(16-off, 7) // the site's bytes in its first block
	done := 0
	set := func(addr, at uint64, from, to []byte) bool {
		return access(addr, func(b []byte) bool {
			if pt.lost.Load() || (at > 0 && isPrefix(b[at-1])) {
				return false // the table went while we looked, or a prefix
			}
			return swapBytes(at, from, to, &done)(b)
		})
	}
	b1 := site - off
	if one {
		return set(b1, off, from[:n], to[:n])
	}
	if !set(b1+16, 0, from[n:], to[n:]) {
		return false
	}
	if !set(b1, off, from[:n], to[:n]) {
		set(b1+16, 0, to[n:], from[n:])
		return false
	}
	return true
}

// blockAccess runs fn on the 16-byte block of application code at addr
// (16-byte aligned) and reports whether fn changed it.
type blockAccess func(addr uint64, fn func(b []byte) bool) bool

// patchBlock is the blockAccess through pt.patch (mm.PatchText).
func (pt *patcher) patchBlock(addr uint64, fn func(b []byte) bool) bool {
	ok, err := pt.patch(addr, fn)
	return ok && err == nil
}

// stopped runs fn, the two steps of a rewrite or restore across the
// blocks at b1 and b1+16, in one pt.patch access to both (the memory
// manager gives the 32 bytes of a site's blocks on one page), with the
// address space's other threads stopped (stopOthers). It reports what fn
// did; false, without running fn, if the blocks are not on one page or a
// thread did not stop. The caller holds pt.mu.
func (pt *patcher) stopped(b1 uint64, fn func(access blockAccess) bool) bool {
	return pt.patchBlock(b1, func(b []byte) bool {
		if len(b) < 32 {
			return false
		}
		ok := pt.as.stopOthers()
		defer pt.as.resume()
		return ok && fn(func(addr uint64, f func(b []byte) bool) bool {
			return f(b[addr-b1 : addr-b1+16])
		})
	})
}

// jumpedSite returns the patched site whose old syscall instruction began
// at rip, if its patched bytes are still there.
func (pt *patcher) jumpedSite(rip uint64) (ret uint64, ok bool) {
	site := rip - 5
	pt.mu.RLock()
	i, seen := pt.tried[site]
	pt.mu.RUnlock()
	if !seen || i < 0 {
		return 0, false
	}
	var b [7]byte
	if n, _ := pt.read(site, b[:]); n != len(b) {
		return 0, false
	}
	if b != patchedBytes(int(i)) {
		// A reverted site's int3, run before the rewrite: the old
		// code has no int3 there.
		_, nr, _ := pt.site(uint64(i))
		if pt.sites.load(int(i))&siteReverted == 0 || b != origBytes(nr) {
			return 0, false
		}
	}
	return site + 7, true
}

// asSyscall makes regs those of a syscall entry for nr returning to ret:
// what a syscall instruction at ret-2 would have left.
func asSyscall(regs *arch.Registers, nr, ret uint64) (platform.Event, platform.FaultInfo, error) {
	regs.Orig_rax = nr
	regs.Rax = negENOSYS
	regs.Rip = ret
	regs.Rcx = ret
	regs.R11 = regs.Eflags
	return platform.EventSyscall, platform.FaultInfo{}, nil
}

// patchEvent decodes a stop of a thread in the patch trampoline's fast
// path: the registers are in the state page, rax holds the site's index.
func (c *context) patchEvent(t *thread, regs *arch.Registers) (platform.Event, platform.FaultInfo, error) {
	t.getPatchRegs(regs)
	c.lazy = t
	pt := t.as.patch
	t.site = 0
	if pt != nil {
		if ret, nr, ok := pt.site(siteIndex(regs.Rax)); ok {
			t.site = uint32(siteIndex(regs.Rax)) + 1
			t.sinceOut = min(t.sinceOut+1, trapOutGap+1)
			if nr == dynNR || nr == goNR {
				nr = binary.LittleEndian.Uint64(t.page[tNR:])
			}
			return asSyscall(regs, nr, ret)
		}
	}
	// Only an application that jumped into the stub image gets here:
	// a SIGSEGV at the trampoline (the saved rip is stale).
	regs.Rip = t.as.p.base + offPatchEntry
	return platform.EventFault, platform.FaultInfo{Signo: int32(unix.SIGSEGV), Code: 1 /* SEGV_MAPERR */, Addr: regs.Rip}, nil
}

// siteIndex is the site index a thunk left in eax.
func siteIndex(rax uint64) uint64 { return uint64(uint32(rax)) }

// patchFault turns the traps that stand for a patched site's syscall into
// that syscall: the trampoline's slow path (the gs base is the
// application's), a jump to the old syscall instruction, the pointer table
// gone. It returns false for any other fault.
func (c *context) patchFault(t *thread, regs *arch.Registers, fi *platform.FaultInfo) bool {
	pt := t.as.patch
	if pt == nil {
		return false
	}
	base := t.as.p.base
	if i, at, ok := dynThunkAt(base, regs.Rip); ok {
		// A dynamic thunk's own check failed (ud2) or faulted (probe):
		// the number is in r11 (a Go thunk's movs are done).
		if (fi.Signo == int32(unix.SIGILL) && at == offDynThunkSlow-offDynThunkBody) ||
			(fi.Signo == int32(unix.SIGSEGV) && at == offDynThunkProbe-offDynThunkBody) {
			if ret, _, ok := pt.site(uint64(i)); ok {
				asSyscall(regs, regs.R11, ret)
				return true
			}
		}
		return false
	}
	switch {
	case (fi.Signo == int32(unix.SIGILL) && regs.Rip == base+offPatchSlow) ||
		(fi.Signo == int32(unix.SIGSEGV) && regs.Rip == base+offPatchProbe):
		if ret, nr, ok := pt.site(siteIndex(regs.Rax)); ok {
			asSyscall(regs, nr, ret)
			return true
		}
	case fi.Signo == int32(unix.SIGTRAP) && fi.Code == siKernel:
		// An int3 leaves rip after itself.
		if ret, ok := pt.jumpedSite(regs.Rip - 1); ok {
			asSyscall(regs, regs.Rax, ret)
			return true
		}
	case fi.Signo == int32(unix.SIGSEGV) && fi.Addr >= ptrTableAddr && fi.Addr < ptrTableAddr+ptrTableLen:
		ret, nr, ok := pt.site((fi.Addr - ptrTableAddr) / 8)
		if !ok || patchStart(ret, nr) != regs.Rip || nr == goNR {
			return false
		}
		if nr == dynNR {
			// The site's mov, then its syscall, whose number is in
			// rax (it used to be taken as dynNR: ENOSYS). A mov
			// that would fault is the application's SIGSEGV.
			var b [8]byte
			if n, err := pt.read(regs.Rsp+8, b[:]); err != nil || n != len(b) {
				return false
			}
			regs.R9 = binary.LittleEndian.Uint64(b[:])
			nr = regs.Rax
		}
		asSyscall(regs, nr, ret)
		return true
	case fi.Signo == int32(unix.SIGSEGV) && fi.Addr == goDisp:
		// The Go view is gone: the site's movs, then its syscall.
		if ret, nr, ok := pt.site(goSite); ok && patchStart(ret, nr) == regs.Rip {
			regs.R10, regs.Rdx, regs.Rsi, regs.Rdi = regs.Rsi, regs.Rdi, regs.Rcx, regs.Rbx
			asSyscall(regs, regs.Rax, ret)
			return true
		}
	}
	return false
}

// rewindThunk moves an interrupted thread that was in a thunk back to its
// site, so that the application never sees the stub's addresses.
func (c *context) rewindThunk(t *thread, regs *arch.Registers) {
	pt := t.as.patch
	base := t.as.p.base
	if pt == nil {
		return
	}
	if i, at, ok := dynThunkAt(base, regs.Rip); ok {
		if ret, nr, ok := pt.site(uint64(i)); ok {
			regs.Rip = patchStart(ret, nr)
			if nr == goNR {
				// Its movs are the site's own, which the patch
				// left in place but for the first: resume at
				// the same one there, or after them at its
				// syscall (the movs cannot be run twice).
				regs.Rip += uint64(min(at+goMovsLen, goMovsLen))
			}
			if at >= offDynThunkMoved-offDynThunkBody {
				// The number moved from rax to r11; the site's
				// syscall finds it in rax again.
				regs.Rax = regs.R11
			}
		}
		return
	}
	start := base + thunksOff
	if regs.Rip < start || regs.Rip >= base+dynThunksOff {
		return
	}
	if ret, _, ok := pt.site((regs.Rip - start) / thunkSize); ok {
		regs.Rip = ret - 7
	}
}

// dynThunkAt returns the site whose dynamic thunk (or Go thunk) rip is
// in, for a stub image at base, and rip's offset from the thunk's copy of
// dyn_thunk_body (negative in the site's own instructions before it).
func dynThunkAt(base, rip uint64) (i int, at int64, ok bool) {
	start := base + dynThunksOff
	switch {
	case rip >= start && rip < base+goThunkOff:
		i = maxSites + int((rip-start)/dynThunkSize)
		return i, int64((rip-start)%dynThunkSize) - (offDynThunkBody - offDynThunk), true
	case rip >= base+goThunkOff && rip < base+goThunkOff+dynThunkSize:
		return goSite, int64(rip-base-goThunkOff) - goMovsLen, true
	}
	return 0, 0, false
}

// putPatchRegs writes regs into the state page of a thread parked in the
// patch trampoline, which restores all of them (gs is the state page's, as
// regs.Gs_base is 0). It writes only the words that changed: after a
// syscall that is rax alone, which is not in T_PREGS but next to the
// state word (tRax), so that a round trip moves that one cache line each
// way between the two CPUs and nothing else (each move of a line costs
// about as much as the rest of the round trip when both sides spin).
// The registers in tCRegs (cregs) go there only if the kernel pulled them
// (lazy false); else regs holds stale ones and tCRegs the application's.
func (t *thread) putPatchRegs(regs *arch.Registers, lazy bool) {
	p, c := patchRegs(t.page)
	// The syscall's arguments, rcx (rip, after a syscall), rsp and rip:
	// sigcontext order, the slots of the others unused.
	setIfChanged(&p[0], regs.R8)
	setIfChanged(&p[1], regs.R9)
	setIfChanged(&p[2], regs.R10)
	setIfChanged(&p[8], regs.Rdi)
	setIfChanged(&p[9], regs.Rsi)
	setIfChanged(&p[12], regs.Rdx)
	setIfChanged(&p[14], regs.Rcx)
	setIfChanged(&p[15], regs.Rsp)
	setIfChanged(&p[16], regs.Rip)
	if !lazy {
		for i, r := range cregs(regs) {
			setIfChanged(&c[i], *r)
		}
	}
	putIfChanged(t.page[tFSBase:], regs.Fs_base)
	// rax goes to tRax at the hand-off itself (handOff), next to the
	// state change on the same cache line: written now, the line would
	// go to the stub's CPU, which spins reading it, and back before the
	// state change.
	t.rax, t.raxOut = regs.Rax, true
}

// cregs lists the registers in tCRegs's order (stub.S T_CREGS), the ones
// a syscall leaves with the application (LazyRegs): the callee-saved
// ones, the flags, and r11, which a syscall sets to the flags (the
// trampoline does that itself).
func cregs(r *arch.Registers) [8]*uint64 {
	return [8]*uint64{&r.Rbx, &r.Rbp, &r.R12, &r.R13, &r.R14, &r.R15, &r.R11, &r.Eflags}
}

// setIfChanged stores v in *w unless it holds it already: a store to a
// line the stub's CPU holds too would take the line from it.
func setIfChanged(w *uint64, v uint64) {
	if *w != v {
		*w = v
	}
}

// putIfChanged writes v to the first 8 bytes of b unless they hold it
// already.
func putIfChanged(b []byte, v uint64) {
	le := binary.LittleEndian
	if le.Uint64(b) != v {
		le.PutUint64(b, v)
	}
}

// getPatchRegs reads the registers the patch trampoline saved, but for
// those in tCRegs (cregs), left there until pullCRegs.
func (t *thread) getPatchRegs(regs *arch.Registers) {
	p, _ := patchRegs(t.page)
	regs.R8, regs.R9, regs.R10 = p[0], p[1], p[2]
	regs.Rdi, regs.Rsi, regs.Rdx = p[8], p[9], p[12]
	regs.Rcx, regs.Rsp, regs.Rip = p[14], p[15], p[16]
	regs.Rax = binary.LittleEndian.Uint64(t.page[tRax:])
	regs.Fs_base = binary.LittleEndian.Uint64(t.page[tFSBase:])
	regs.Gs_base = 0
	regs.Cs, regs.Ss = userCS, userSS
	regs.Ds, regs.Es, regs.Fs, regs.Gs = 0, 0, 0, 0
	regs.Orig_rax = ^uint64(0)
}

// pullCRegs copies the registers the trampoline left in tCRegs into regs.
func (t *thread) pullCRegs(regs *arch.Registers) {
	_, c := patchRegs(t.page)
	for i, r := range cregs(regs) {
		*r = c[i]
	}
}

// leaveTrampoline makes a thread parked in the patch trampoline trap out
// of it, so that it parks again in the signal handler with a full signal
// frame (FP state, and a gs base of the application's choosing). The
// registers in the frame are then stale: the caller writes them.
//
// The trap out is an answer to the stub's event and a new event, like a
// hand-off's, and is accounted as one: the stub's wait for ST_TRAP is
// recorded (stubAnswered) and t.evAt moves to the trap's event, so that
// the next hand-off times the sentry's answer from there; a hot thread
// spins for the trap on its lease (waitTrap).
func (t *thread) leaveTrampoline(c *context) error {
	t.inTramp, t.raxOut = false, false
	t.noteTrapOut()
	now := arch.Rdtsc()
	t.stubAnswered()
	hot := t.hot != nil && t.stayHot(now)
	swap(t.state, stTrap)
	if load(t.stubSleep) != 0 {
		futexWake(t.state)
	}
	if !t.waitTrap(c, hot) || load(t.state) != stEvent {
		t.dead = true
		return platform.ErrContextDead
	}
	if err := t.parked(); err != nil {
		t.kill()
		return err
	}
	if s := t.signo(); s != unix.SIGTRAP || t.rip() != t.as.p.base+offPatchTrap+1 {
		t.kill()
		return platform.ErrContextDead
	}
	return nil
}
