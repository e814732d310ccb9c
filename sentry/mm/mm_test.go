package mm

import (
	"bytes"
	"errors"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

const pg = usermem.PageSize

func anonOpts(length uint64) MMapOpts {
	return MMapOpts{Length: length, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess}
}

func mustMMap(t *testing.T, m *MemoryManager, opts MMapOpts) uint64 {
	t.Helper()
	a, err := m.MMap(opts)
	if err != nil {
		t.Fatalf("MMap(%+v): %v", opts, err)
	}
	return a
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func vmaCount(m *MemoryManager) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.vmas)
}

func TestMMapPlacement(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	base := m.MMapBase()
	if base != testMax-mmapBaseGap {
		t.Fatalf("default base %#x", base)
	}
	a1 := mustMMap(t, m, anonOpts(3*pg))
	if a1 != base-3*pg {
		t.Errorf("first mapping at %#x, want %#x", a1, base-3*pg)
	}
	a2 := mustMMap(t, m, anonOpts(pg+1))
	if a2 != a1-2*pg {
		t.Errorf("second mapping at %#x, want %#x", a2, a1-2*pg)
	}
	if n := vmaCount(m); n != 1 {
		t.Errorf("adjacent anonymous mappings not merged: %d vmas", n)
	}
	// A free hint is honoured; an occupied one is not.
	o := anonOpts(pg)
	o.Addr = 0x200000000
	if a := mustMMap(t, m, o); a != 0x200000000 {
		t.Errorf("hint ignored: %#x", a)
	}
	o.Addr = 0x200000000
	if a := mustMMap(t, m, o); a == 0x200000000 {
		t.Error("occupied hint reused")
	}
	o.Addr = 0x300000001 // rounded up
	if a := mustMMap(t, m, o); a != 0x300001000 {
		t.Errorf("unaligned hint: %#x", a)
	}
	o = anonOpts(pg)
	o.Map32Bit = true
	if a := mustMMap(t, m, o); a < map32Start || a >= map32End {
		t.Errorf("MAP_32BIT at %#x", a)
	}
	m.SetMMapBase(0x100000000)
	if a := mustMMap(t, m, anonOpts(pg)); a != 0x100000000-pg {
		t.Errorf("after SetMMapBase: %#x", a)
	}
	checkInvariants(t, m)
}

func TestMMapErrors(t *testing.T) {
	m := newEnv(t).mm
	_, err := m.MMap(anonOpts(0))
	wantErr(t, "zero length", err, unix.EINVAL)
	_, err = m.MMap(anonOpts(^uint64(0)))
	wantErr(t, "huge length", err, unix.ENOMEM)
	o := anonOpts(pg)
	o.Fixed, o.Unmap, o.Addr = true, true, 0x10000001
	_, err = m.MMap(o)
	wantErr(t, "unaligned fixed", err, unix.EINVAL)
	o.Addr = testMax
	_, err = m.MMap(o)
	wantErr(t, "fixed beyond max", err, unix.ENOMEM)
	o.Addr = testMax - pg
	if _, err := m.MMap(o); err != nil {
		t.Errorf("fixed at last page: %v", err)
	}
	o.Addr = 0x1000
	_, err = m.MMap(o)
	wantErr(t, "fixed below min", err, unix.EPERM)
	o = anonOpts(pg)
	o.Offset = 5
	_, err = m.MMap(o)
	wantErr(t, "unaligned offset", err, unix.EINVAL)
	o = anonOpts(pg)
	o.MaxPerms = usermem.Read
	_, err = m.MMap(o)
	wantErr(t, "perms beyond max", err, unix.EACCES)
	_, err = m.MMap(anonOpts(testMax))
	wantErr(t, "longer than address space", err, unix.ENOMEM)
}

func TestMMapFixedReplaceAndNoReplace(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(4*pg))
	if _, err := m.CopyOut(a, bytes.Repeat([]byte{1}, 4*pg)); err != nil {
		t.Fatal(err)
	}
	appAccess(m, e.mf, a+pg, false, 0) // map it in the AS
	o := anonOpts(pg)
	o.Fixed, o.Addr = true, a+pg
	_, err := m.MMap(o)
	wantErr(t, "MAP_FIXED_NOREPLACE", err, unix.EEXIST)
	o.Unmap = true
	o.Perms = usermem.Read
	if got := mustMMap(t, m, o); got != a+pg {
		t.Fatalf("MAP_FIXED at %#x", got)
	}
	if _, ok := fas(m).lookup(a + pg); ok {
		t.Error("replaced page still mapped in the AddressSpace")
	}
	buf := make([]byte, 4*pg)
	if n, err := m.CopyIn(a, buf); err != nil || n != len(buf) {
		t.Fatalf("CopyIn: %d %v", n, err)
	}
	for i, b := range buf {
		want := byte(1)
		if i >= pg && i < 2*pg {
			want = 0
		}
		if b != want {
			t.Fatalf("byte %d = %d, want %d", i, b, want)
		}
	}
	if n := vmaCount(m); n != 3 {
		t.Errorf("%d vmas after MAP_FIXED in the middle, want 3", n)
	}
	checkInvariants(t, m)
}

func TestMUnmapSplits(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(10*pg))
	m.CopyOut(a, bytes.Repeat([]byte{7}, 10*pg))
	for i := uint64(0); i < 10; i++ {
		appAccess(m, e.mf, a+i*pg, false, 0)
	}
	used := e.mf.Usage().Allocated
	if err := m.MUnmap(a+3*pg, 2*pg); err != nil {
		t.Fatal(err)
	}
	if n := vmaCount(m); n != 2 {
		t.Fatalf("%d vmas, want 2", n)
	}
	if e.mf.Usage().Allocated != used-2*pg {
		t.Errorf("munmap did not release the pages: %d -> %d", used, e.mf.Usage().Allocated)
	}
	var b [1]byte
	if _, err := m.CopyIn(a+3*pg, b[:]); err != unix.EFAULT {
		t.Errorf("CopyIn of unmapped page: %v", err)
	}
	if sig, code, _, _ := appAccess(m, e.mf, a+4*pg, false, 0); sig != int32(unix.SIGSEGV) || code != segvMapErr {
		t.Errorf("fault on unmapped page: %d/%d", sig, code)
	}
	if _, _, _, v := appAccess(m, e.mf, a+5*pg, false, 0); v != 7 {
		t.Errorf("data after hole: %d", v)
	}
	checkInvariants(t, m)
	wantErr(t, "unaligned", m.MUnmap(a+1, pg), unix.EINVAL)
	wantErr(t, "zero length", m.MUnmap(a, 0), unix.EINVAL)
	wantErr(t, "beyond max", m.MUnmap(testMax-pg, 2*pg), unix.EINVAL)
	if err := m.MUnmap(0x20000, pg); err != nil {
		t.Errorf("munmap of nothing: %v", err)
	}
}

func TestMProtect(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(6*pg))
	for i := uint64(0); i < 6; i++ {
		appAccess(m, e.mf, a+i*pg, true, byte(i))
	}
	if err := m.MProtect(a+2*pg, 2*pg, usermem.Read, false); err != nil {
		t.Fatal(err)
	}
	if n := vmaCount(m); n != 3 {
		t.Fatalf("%d vmas, want 3", n)
	}
	checkInvariants(t, m)
	if pm, _ := fas(m).lookup(a + 2*pg); pm.perms.Write {
		t.Error("AS still maps the page writable")
	}
	if n, err := m.CopyOut(a+pg, make([]byte, 2*pg)); err != unix.EFAULT || n != pg {
		t.Errorf("CopyOut into read-only: %d %v", n, err)
	}
	if sig, code, _, _ := appAccess(m, e.mf, a+2*pg, true, 1); sig != int32(unix.SIGSEGV) || code != segvAccErr {
		t.Errorf("write to read-only page: %d/%d", sig, code)
	}
	if _, _, _, v := appAccess(m, e.mf, a+3*pg, false, 0); v != 3 {
		t.Errorf("read-only page reads %d", v)
	}
	// PROT_NONE: any access is ACCERR.
	m.MProtect(a+2*pg, pg, usermem.NoAccess, false)
	if sig, code, _, _ := appAccess(m, e.mf, a+2*pg, false, 0); sig != int32(unix.SIGSEGV) || code != segvAccErr {
		t.Errorf("read of PROT_NONE: %d/%d", sig, code)
	}
	checkInvariants(t, m)
	// Back to rw: vmas merge again and data is intact.
	if err := m.MProtect(a, 6*pg, usermem.ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	if n := vmaCount(m); n != 1 {
		t.Errorf("%d vmas after restoring, want 1", n)
	}
	if _, _, _, v := appAccess(m, e.mf, a+2*pg, false, 0); v != 2 {
		t.Errorf("data lost across PROT_NONE: %d", v)
	}

	// MaxPerms and holes.
	o := anonOpts(2 * pg)
	o.Perms, o.MaxPerms = usermem.Read, usermem.Read
	b := mustMMap(t, m, o)
	wantErr(t, "beyond MaxPerms", m.MProtect(b, 2*pg, usermem.ReadWrite, false), unix.EACCES)
	wantErr(t, "hole", m.MProtect(a+5*pg, 2*pg, usermem.Read, false), unix.ENOMEM)
	// Linux applies the change up to the hole.
	m.mu.RLock()
	if v := m.findVMALocked(a + 5*pg); v.perms != usermem.Read {
		t.Error("change before the hole not applied")
	}
	m.mu.RUnlock()
	wantErr(t, "unaligned", m.MProtect(a+1, pg, usermem.Read, false), unix.EINVAL)
	if err := m.MProtect(a, 0, usermem.Read, false); err != nil {
		t.Errorf("zero length: %v", err)
	}
	wantErr(t, "wrap", m.MProtect(a, ^uint64(0)-pg, usermem.Read, false), unix.ENOMEM)

	// PROT_GROWSDOWN applies from the start of a growsdown vma.
	o = anonOpts(4 * pg)
	o.GrowsDown = true
	s := mustMMap(t, m, o)
	if err := m.MProtect(s+2*pg, pg, usermem.Read, true); err != nil {
		t.Fatal(err)
	}
	m.mu.RLock()
	if v := m.findVMALocked(s); v.perms != usermem.Read || v.end != s+3*pg {
		t.Errorf("PROT_GROWSDOWN: vma [%#x,%#x) %v", v.start, v.end, v.perms)
	}
	m.mu.RUnlock()
	wantErr(t, "PROT_GROWSDOWN on a normal vma", m.MProtect(b, pg, usermem.Read, true), unix.EINVAL)
	checkInvariants(t, m)
}

func TestBrk(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	start := uint64(0x555555560123)
	m.SetBrkStart(start)
	if got := m.Brk(0); got != start {
		t.Fatalf("Brk(0) = %#x", got)
	}
	if got := m.Brk(start + 3*pg); got != start+3*pg {
		t.Fatalf("grow: %#x", got)
	}
	// The new part is mapped at once: the program's first write there
	// takes no fault.
	if sig, _, faults, _ := appAccess(m, e.mf, (start+pg)&^(pg-1)+8, true, 7); sig != 0 || faults != 0 {
		t.Errorf("write to the grown heap: signal %d after %d faults", sig, faults)
	}
	if _, err := m.CopyOut(start+pg, bytes.Repeat([]byte{9}, pg)); err != nil {
		t.Fatalf("heap not writable: %v", err)
	}
	if !strings.Contains(m.MapsText(), "[heap]") {
		t.Error("no [heap] in maps")
	}
	if got := m.Brk(start + 10*pg); got != start+10*pg {
		t.Fatalf("grow again: %#x", got)
	}
	if n := vmaCount(m); n != 1 {
		t.Errorf("heap in %d vmas", n)
	}
	if got := m.Brk(start + pg); got != start+pg {
		t.Fatalf("shrink: %#x", got)
	}
	if got := m.Brk(start + 3*pg); got != start+3*pg {
		t.Fatal("regrow")
	}
	var b [1]byte
	m.CopyIn(start+2*pg+0x100, b[:])
	if b[0] != 0 {
		t.Error("heap page freed by shrinking is not zero")
	}
	m.CopyIn(start+pg, b[:])
	if b[0] != 9 {
		t.Error("heap below the break lost its data")
	}
	if got := m.Brk(start - pg); got != start+3*pg {
		t.Errorf("below start: %#x", got)
	}
	// A mapping in the way makes brk fail.
	o := anonOpts(pg)
	o.Fixed, o.Unmap, o.Addr = true, true, usermem.PageRoundDown(start)+20*pg
	mustMMap(t, m, o)
	if got := m.Brk(start + 30*pg); got != start+3*pg {
		t.Errorf("brk over a mapping: %#x", got)
	}
	m.SetDataLimit(4 * pg)
	if got := m.Brk(start + 5*pg); got != start+3*pg {
		t.Errorf("brk beyond RLIMIT_DATA: %#x", got)
	}
	checkInvariants(t, m)
}

func TestMRemap(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	fill := func(a, n uint64, v byte) {
		if _, err := m.CopyOut(a, bytes.Repeat([]byte{v}, int(n))); err != nil {
			t.Fatal(err)
		}
	}
	check := func(a, n uint64, v byte) {
		t.Helper()
		buf := make([]byte, n)
		if _, err := m.CopyIn(a, buf); err != nil {
			t.Fatalf("CopyIn %#x: %v", a, err)
		}
		if !bytes.Equal(buf, bytes.Repeat([]byte{v}, int(n))) {
			t.Fatalf("contents at %#x differ", a)
		}
	}
	o := anonOpts(2 * pg)
	o.Fixed, o.Unmap, o.Addr = true, true, 0x40000000
	a := mustMMap(t, m, o)
	fill(a, 2*pg, 5)

	// Grow in place.
	if got, err := m.MRemap(a, 2*pg, 4*pg, 0, 0); err != nil || got != a {
		t.Fatalf("grow in place: %#x %v", got, err)
	}
	check(a, 2*pg, 5)
	check(a+2*pg, 2*pg, 0)

	// Block growth, then move.
	o.Addr = a + 4*pg
	o.Perms = usermem.Read // not mergeable
	mustMMap(t, m, o)
	_, err := m.MRemap(a, 4*pg, 8*pg, 0, 0)
	wantErr(t, "grow without MAYMOVE", err, unix.ENOMEM)
	m.mu.RLock()
	frBefore := m.findVMALocked(a).findPMA(a).fr
	m.mu.RUnlock()
	b, err := m.MRemap(a, 4*pg, 8*pg, unix.MREMAP_MAYMOVE, 0)
	if err != nil || b == a {
		t.Fatalf("move: %#x %v", b, err)
	}
	m.mu.RLock()
	if fr := m.findVMALocked(b).findPMA(b).fr; fr.Start != frBefore.Start {
		t.Error("move copied the data instead of moving the pmas")
	}
	m.mu.RUnlock()
	check(b, 2*pg, 5)
	if _, err := m.CopyIn(a, make([]byte, 1)); err != unix.EFAULT {
		t.Error("old range still mapped after move")
	}

	// Shrink.
	if got, err := m.MRemap(b, 8*pg, 2*pg, 0, 0); err != nil || got != b {
		t.Fatalf("shrink: %#x %v", got, err)
	}
	if _, err := m.CopyIn(b+2*pg, make([]byte, 1)); err != unix.EFAULT {
		t.Error("shrunk tail still mapped")
	}

	// FIXED.
	dst := uint64(0x50000000)
	if got, err := m.MRemap(b, 2*pg, 2*pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, dst); err != nil || got != dst {
		t.Fatalf("fixed: %#x %v", got, err)
	}
	check(dst, 2*pg, 5)

	// DONTUNMAP: old range stays mapped, reads zero.
	c, err := m.MRemap(dst, 2*pg, 2*pg, unix.MREMAP_MAYMOVE|unix.MREMAP_DONTUNMAP, 0)
	if err != nil || c == dst {
		t.Fatalf("dontunmap: %#x %v", c, err)
	}
	check(c, 2*pg, 5)
	check(dst, 2*pg, 0)

	// Errors.
	_, err = m.MRemap(0x60000000, pg, 2*pg, unix.MREMAP_MAYMOVE, 0)
	wantErr(t, "unmapped", err, unix.EFAULT)
	_, err = m.MRemap(c, 3*pg, 4*pg, unix.MREMAP_MAYMOVE, 0)
	wantErr(t, "beyond vma", err, unix.EFAULT)
	_, err = m.MRemap(c+1, pg, pg, 0, 0)
	wantErr(t, "unaligned", err, unix.EINVAL)
	_, err = m.MRemap(c, pg, 0, 0, 0)
	wantErr(t, "zero new size", err, unix.EINVAL)
	_, err = m.MRemap(c, pg, pg, unix.MREMAP_FIXED, dst)
	wantErr(t, "FIXED without MAYMOVE", err, unix.EINVAL)
	_, err = m.MRemap(c, 2*pg, 2*pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, c+pg)
	wantErr(t, "overlapping FIXED", err, unix.EINVAL)
	_, err = m.MRemap(c, pg, 2*pg, unix.MREMAP_MAYMOVE|unix.MREMAP_DONTUNMAP, 0)
	wantErr(t, "DONTUNMAP resize", err, unix.EINVAL)
	_, err = m.MRemap(c, pg, pg, 0x100, 0)
	wantErr(t, "bad flags", err, unix.EINVAL)
	_, err = m.MRemap(c, 0, pg, unix.MREMAP_MAYMOVE, 0)
	wantErr(t, "duplicate private", err, unix.EINVAL)

	// Duplicating a shared mapping shares its memory.
	so := anonOpts(pg)
	so.Private = false
	s := mustMMap(t, m, so)
	d, err := m.MRemap(s, 0, pg, unix.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatal(err)
	}
	fill(s, 8, 0x42)
	check(d, 8, 0x42)
	checkInvariants(t, m)
}

func TestForkCOW(t *testing.T) {
	e := newEnv(t)
	parent := e.mm
	a := mustMMap(t, parent, anonOpts(4*pg))
	so := anonOpts(pg)
	so.Private = false
	s := mustMMap(t, parent, so)
	for i := uint64(0); i < 4; i++ {
		appAccess(parent, e.mf, a+i*pg, true, 1)
	}
	appAccess(parent, e.mf, s, true, 0x10)

	child, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if pm, ok := fas(parent).lookup(a); !ok || pm.perms.Write {
		t.Errorf("parent page still writable after fork: %+v %v", pm, ok)
	}
	checkInvariants(t, parent)
	checkInvariants(t, child)

	if _, _, _, v := appAccess(child, e.mf, a, false, 0); v != 1 {
		t.Fatalf("child reads %d", v)
	}
	if sig, _, _, _ := appAccess(child, e.mf, a, true, 2); sig != 0 {
		t.Fatalf("child write: signal %d", sig)
	}
	if sig, _, _, _ := appAccess(parent, e.mf, a, true, 3); sig != 0 {
		t.Fatalf("parent write: signal %d", sig)
	}
	if _, _, _, v := appAccess(child, e.mf, a, false, 0); v != 2 {
		t.Errorf("child sees %d, want 2", v)
	}
	if _, _, _, v := appAccess(parent, e.mf, a, false, 0); v != 3 {
		t.Errorf("parent sees %d, want 3", v)
	}
	// Through CopyOut as well.
	child.CopyOut(a+pg, []byte{4})
	var b [1]byte
	parent.CopyIn(a+pg, b[:])
	if b[0] != 1 {
		t.Errorf("child's CopyOut leaked into the parent: %d", b[0])
	}

	// The shared mapping stays shared.
	appAccess(child, e.mf, s, true, 0x20)
	if _, _, _, v := appAccess(parent, e.mf, s, false, 0); v != 0x20 {
		t.Errorf("shared anonymous mapping not shared after fork: %d", v)
	}
	checkInvariants(t, parent)
	checkInvariants(t, child)

	// After the child is gone, the parent takes its pages over without copying.
	child.Release()
	if !fas(child).released {
		t.Error("child AddressSpace not released")
	}
	parent.mu.RLock()
	frBefore := parent.findVMALocked(a + 2*pg).findPMA(a + 2*pg).fr
	parent.mu.RUnlock()
	if sig, _, _, _ := appAccess(parent, e.mf, a+2*pg, true, 5); sig != 0 {
		t.Fatal("parent write after child exit")
	}
	parent.mu.RLock()
	if fr := parent.findVMALocked(a + 2*pg).findPMA(a + 2*pg).fr; fr.Start != frBefore.Start {
		t.Error("exclusive COW page was copied instead of taken over")
	}
	parent.mu.RUnlock()
	checkInvariants(t, parent)
	releaseAll(t, e, parent)
}

func TestSharedMemoryUsersAndRelease(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	m.IncUsers()
	a := mustMMap(t, m, anonOpts(pg))
	m.CopyOut(a, []byte{1})
	m.Release()
	if fas(m).released {
		t.Fatal("released with a user left")
	}
	var b [1]byte
	if _, err := m.CopyIn(a, b[:]); err != nil || b[0] != 1 {
		t.Fatal("memory gone with a user left")
	}
	m.Release()
	if !fas(m).released || e.mf.Usage().Allocated != 0 {
		t.Error("last Release did not free everything")
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	sig, code := m.HandleFault(0x1234, usermem.NoAccess, segvMapErr)
	if sig != int32(unix.SIGSEGV) || code != segvMapErr {
		t.Errorf("unmapped: %d/%d", sig, code)
	}
	o := anonOpts(pg)
	o.Perms = usermem.Read
	r := mustMMap(t, m, o)
	if sig, code, _, _ := appAccess(m, e.mf, r, true, 1); sig != int32(unix.SIGSEGV) || code != segvAccErr {
		t.Errorf("write to read-only: %d/%d", sig, code)
	}
	// A precise write (another platform) to a read-only vma.
	if sig, code := m.HandleFault(r, usermem.Write, segvMapErr); sig != int32(unix.SIGSEGV) || code != segvAccErr {
		t.Errorf("precise write: %d/%d", sig, code)
	}
	// An execute of a rw page, reported by ptrace as a write ACCERR: one
	// retry, then SIGSEGV.
	w := mustMMap(t, m, anonOpts(pg))
	appAccess(m, e.mf, w, true, 1)
	if sig, _ := m.HandleFault(w, usermem.Write, segvAccErr); sig != 0 {
		t.Error("first spurious ACCERR not retried")
	}
	if sig, code := m.HandleFault(w, usermem.Write, segvAccErr); sig != int32(unix.SIGSEGV) || code != segvAccErr {
		t.Errorf("repeated ACCERR: %d/%d", sig, code)
	}

	// File mapping past EOF: SIGBUS.
	f := newFakeFile(t, e.mf, bytes.Repeat([]byte{'x'}, pg+10))
	defer f.release()
	fo := MMapOpts{Length: 4 * pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess, Mappable: f, Hold: f.hold}
	fa := mustMMap(t, m, fo)
	if _, _, _, v := appAccess(m, e.mf, fa+pg+9, false, 0); v != 'x' {
		t.Errorf("last file byte: %q", v)
	}
	if _, _, _, v := appAccess(m, e.mf, fa+pg+10, false, 0); v != 0 {
		t.Errorf("byte past EOF in last page: %q", v)
	}
	if sig, code, _, _ := appAccess(m, e.mf, fa+2*pg, false, 0); sig != int32(unix.SIGBUS) || code != busAdrErr {
		t.Errorf("past EOF: %d/%d", sig, code)
	}
	if _, err := m.CopyIn(fa+2*pg, make([]byte, 1)); err != unix.EFAULT {
		t.Errorf("CopyIn past EOF: %v", err)
	}
	if f.holdCount() != 1 {
		t.Errorf("hold count %d", f.holdCount())
	}
	m.MUnmap(fa, 4*pg)
	if f.holdCount() != 0 {
		t.Errorf("hold count after munmap %d", f.holdCount())
	}
	checkInvariants(t, m)
}

func TestFileMappings(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	data := bytes.Repeat([]byte("0123456789abcdef"), 4*pg/16)
	f := newFakeFile(t, e.mf, data)
	priv := mustMMap(t, m, MMapOpts{Length: 4 * pg, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f, Name: "/lib/x.so"})
	shared := mustMMap(t, m, MMapOpts{Length: 4 * pg, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f, Offset: 0})

	// Reading a private file page maps the file's page read-only. (The
	// mapping is within one copy-on-write window: a write copies all of
	// it, see TestCOWWindowFile.)
	if _, _, _, v := appAccess(m, e.mf, priv+pg+1, false, 0); v != '1' {
		t.Fatalf("private read %q", v)
	}
	if pm, _ := fas(m).lookup(priv + pg); pm.perms.Write || pm.off != f.fr.Start+pg {
		t.Errorf("private file page mapped %+v", pm)
	}
	// Writing it copies.
	if sig, _, faults, _ := appAccess(m, e.mf, priv+pg+1, true, 'P'); sig != 0 || faults != 1 {
		t.Errorf("COW write: sig %d after %d faults", sig, faults)
	}
	if e.mf.Slice(f.fr)[pg+1] != '1' {
		t.Error("private write reached the file")
	}
	// Shared writes reach the file.
	appAccess(m, e.mf, shared+2*pg, true, 'S')
	if e.mf.Slice(f.fr)[2*pg] != 'S' {
		t.Error("shared write did not reach the file")
	}
	// MADV_DONTNEED reverts private pages to the file.
	if err := m.MAdvise(priv, 4*pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	m.CopyIn(priv+pg+1, b[:])
	if b[0] != '1' {
		t.Errorf("DONTNEED did not revert to the file: %q", b[0])
	}
	checkInvariants(t, m)
	maps := m.MapsText()
	if !strings.Contains(maps, "rw-p 00000000 08:01 1234") || !strings.Contains(maps, "/lib/x.so") {
		t.Errorf("maps:\n%s", maps)
	}
	releaseAll(t, e, m, f)
}

func TestMAdviseAnon(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(4*pg))
	m.CopyOut(a, bytes.Repeat([]byte{3}, 4*pg))
	appAccess(m, e.mf, a, false, 0)
	if err := m.MAdvise(a, 2*pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	// Pages nobody else refers to are zeroed in place: the host keeps
	// its mapping, which reads zero, and they stop being resident.
	if _, ok := fas(m).lookup(a); !ok {
		t.Error("DONTNEED of an exclusive page removed its host mapping")
	}
	if vec, err := m.MinCore(a, 4*pg); err != nil || !bytes.Equal(vec, []byte{0, 0, 1, 1}) {
		t.Errorf("mincore after DONTNEED: %v %v, want [0 0 1 1]", vec, err)
	}
	if _, _, faults, got := appAccess(m, e.mf, a, false, 0); faults != 0 || got != 0 {
		t.Errorf("after DONTNEED the host mapping reads %#x after %d faults, want 0 and none", got, faults)
	}
	var b [1]byte
	m.CopyIn(a, b[:])
	if b[0] != 0 {
		t.Error("DONTNEED page not zero")
	}
	m.CopyIn(a+2*pg, b[:])
	if b[0] != 3 {
		t.Error("page after the DONTNEED range lost")
	}
	if err := m.MAdvise(a, 4*pg, unix.MADV_FREE); err != nil {
		t.Error(err)
	}
	wantErr(t, "hole", m.MAdvise(a, 8*pg, unix.MADV_DONTNEED), unix.ENOMEM)
	wantErr(t, "unknown advice", m.MAdvise(a, pg, 999), unix.EINVAL)
	wantErr(t, "unaligned", m.MAdvise(a+1, pg, unix.MADV_NORMAL), unix.EINVAL)
	if err := m.MAdvise(a, 0, unix.MADV_DONTNEED); err != nil {
		t.Error(err)
	}
	if err := m.MAdvise(a, pg, unix.MADV_WILLNEED); err != nil {
		t.Error(err)
	}
	so := anonOpts(pg)
	so.Private = false
	s := mustMMap(t, m, so)
	wantErr(t, "FREE on shared", m.MAdvise(s, pg, unix.MADV_FREE), unix.EINVAL)

	// DONTFORK / WIPEONFORK.
	m.CopyOut(a, bytes.Repeat([]byte{8}, 4*pg))
	m.MAdvise(a, pg, unix.MADV_DONTFORK)
	m.MAdvise(a+pg, pg, unix.MADV_WIPEONFORK)
	c, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopyIn(a, b[:]); err != unix.EFAULT {
		t.Error("DONTFORK range copied")
	}
	c.CopyIn(a+pg, b[:])
	if b[0] != 0 {
		t.Error("WIPEONFORK range not wiped")
	}
	c.CopyIn(a+2*pg, b[:])
	if b[0] != 8 {
		t.Error("normal range not copied")
	}
	c.Release()
}

// TestMAdviseSharedCOW: MADV_DONTNEED of private pages a forked child
// shares copy-on-write takes them out of the asking address space only.
func TestMAdviseSharedCOW(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(2*pg))
	appAccess(m, e.mf, a, true, 0x11)
	appAccess(m, e.mf, a+pg, true, 0x22)
	c, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if err := m.MAdvise(a, 2*pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if _, ok := fas(m).lookup(a); ok {
		t.Error("DONTNEED of a shared page left it mapped in the parent")
	}
	for i, want := range []byte{0x11, 0x22} {
		if _, _, _, got := appAccess(m, e.mf, a+uint64(i)*pg, false, 0); got != 0 {
			t.Errorf("parent page %d reads %#x after DONTNEED, want 0", i, got)
		}
		if _, _, _, got := appAccess(c, e.mf, a+uint64(i)*pg, false, 0); got != want {
			t.Errorf("child page %d reads %#x, want %#x", i, got, want)
		}
	}
	// The child now holds the only reference: its DONTNEED zeroes in
	// place.
	if err := c.MAdvise(a, pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if _, _, _, got := appAccess(c, e.mf, a, false, 0); got != 0 {
		t.Errorf("child page reads %#x after its DONTNEED, want 0", got)
	}
	if _, _, _, got := appAccess(c, e.mf, a+pg, false, 0); got != 0x22 {
		t.Errorf("child's other page reads %#x, want 0x22", got)
	}
	checkInvariants(t, m)
	checkInvariants(t, c)
}

// TestMAdviseUnderLimit: under a memory limit MADV_DONTNEED frees the
// pages, so that they no longer count against the limit.
func TestMAdviseUnderLimit(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	e.mf.SetLimit(64 * pg)
	a := mustMMap(t, m, anonOpts(4*pg))
	m.CopyOut(a, bytes.Repeat([]byte{3}, 4*pg))
	before := e.mf.Usage().Allocated
	if err := m.MAdvise(a, 4*pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if after := e.mf.Usage().Allocated; after >= before {
		t.Errorf("allocated %d bytes after DONTNEED, %d before: nothing freed", after, before)
	}
	if _, ok := fas(m).lookup(a); ok {
		t.Error("DONTNEED under a limit left the page mapped")
	}
	var b [1]byte
	m.CopyIn(a, b[:])
	if b[0] != 0 {
		t.Error("DONTNEED page not zero")
	}
	checkInvariants(t, m)
}

func TestMinCoreMSync(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	o := anonOpts(8 * pg)
	o.Fixed, o.Unmap, o.Addr = true, true, 0x40000000
	a := mustMMap(t, m, o)
	vec, err := m.MinCore(a, 8*pg)
	if err != nil || !bytes.Equal(vec, make([]byte, 8)) {
		t.Fatalf("fresh mapping: %v %v", vec, err)
	}
	m.CopyOut(a, []byte{1})
	vec, _ = m.MinCore(a, 8*pg)
	if vec[0] != 1 {
		t.Errorf("touched page not resident: %v", vec)
	}
	_, err = m.MinCore(a, 9*pg)
	wantErr(t, "mincore hole", err, unix.ENOMEM)
	_, err = m.MinCore(a+1, pg)
	wantErr(t, "mincore unaligned", err, unix.EINVAL)
	_, err = m.MinCore(a, 1<<62)
	wantErr(t, "mincore huge", err, unix.ENOMEM)

	if err := m.MSync(a, 8*pg, unix.MS_SYNC); err != nil {
		t.Error(err)
	}
	wantErr(t, "msync hole", m.MSync(a, 9*pg, unix.MS_SYNC), unix.ENOMEM)
	wantErr(t, "msync flags", m.MSync(a, pg, unix.MS_SYNC|unix.MS_ASYNC), unix.EINVAL)
	wantErr(t, "msync bad flag", m.MSync(a, pg, 0x100), unix.EINVAL)
	wantErr(t, "msync unaligned", m.MSync(a+1, pg, 0), unix.EINVAL)
}

func TestPrecommit(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	o := anonOpts(64 << 20)
	o.Precommit = true
	a := mustMMap(t, m, o)
	vec, _ := m.MinCore(a, 64<<20)
	for i, v := range vec {
		if v != 1 {
			t.Fatalf("page %d not populated", i)
		}
	}
	if _, ok := fas(m).lookup(a + 33<<20); !ok {
		t.Error("populated page not mapped")
	}
	if n := fas(m).mapCount(); n > 4 {
		t.Errorf("populate took %d MapFile calls", n)
	}
}

// TestMapBatch: a window whose pmas are not contiguous in the memory file
// (a private file mapping with some pages copied on write) is mapped in
// runs, one MapFile each, or in one batch if the AddressSpace takes them;
// the host ends up with the same mappings either way.
func TestMapBatch(t *testing.T) {
	layout := func(batch bool) (runs int, got map[uint64]fakeMapping, b *fakeBatchAS) {
		e := newEnv(t)
		if batch {
			e.mm, b = newBatchMM(t, e)
		}
		m := e.mm
		// Eight copy-on-write windows; a write copies its window.
		const w = cowWindow
		f := newFakeFile(t, e.mf, bytes.Repeat([]byte{'x'}, 8*w))
		f.maxChunk = 8 * w
		// At a window-aligned address, so that each write copies one
		// of the eight.
		a := mustMMap(t, m, MMapOpts{Addr: 256 * w, Fixed: true, Length: 8 * w, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
		for i := uint64(0); i < 8; i++ {
			appAccess(m, e.mf, a+i*w, i%3 == 1, 'y') // windows 1, 4 and 7 copied
		}
		before := fas(m).mapCount()
		if b != nil {
			b.batches = 0
		}
		// Fork makes the copies copy-on-write again: one remap of the
		// whole mapping, in runs: 0, 1, 2-3, 4, 5-6, 7.
		if _, err := m.Fork(); err != nil {
			t.Fatal(err)
		}
		got = map[uint64]fakeMapping{}
		for i := uint64(0); i < 8; i++ {
			pm, ok := fas(m).lookup(a + i*w)
			if !ok || pm.perms.Write {
				t.Fatalf("batch %v: page %d after fork: %+v %v", batch, i, pm, ok)
			}
			got[i] = pm
		}
		return fas(m).mapCount() - before, got, b
	}
	runs, plain, _ := layout(false)

	if runs != 6 {
		t.Errorf("remap without batches took %d MapFile calls, want 6", runs)
	}
	entries, batched, b := layout(true)
	if b.batches != 1 || entries != 6 {
		t.Errorf("remap with batches: %d batches of %d mappings, want 1 of 6", b.batches, entries)
	}
	if !reflect.DeepEqual(plain, batched) {
		t.Errorf("host mappings differ: %v without batches, %v with", plain, batched)
	}
}

// TestCOWWindowFile: a write to a private file mapping copies the
// copy-on-write pages of its window (a dynamic loader relocating a data
// segment writes every page in order): the next write in the window takes
// no fault. Pages outside the window still show the file, and its later
// changes.
func TestCOWWindowFile(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	const w = cowWindow
	f := newFakeFile(t, e.mf, bytes.Repeat([]byte("0123456789abcdef"), 3*w/16))
	priv := mustMMap(t, m, MMapOpts{Addr: 256 * w, Fixed: true, Length: 3 * w, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f, Name: "/lib/x.so"})
	shared := mustMMap(t, m, MMapOpts{Length: 3 * w, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
	if _, _, _, v := appAccess(m, e.mf, priv+pg+1, false, 0); v != '1' {
		t.Fatalf("private read %q", v)
	}
	if sig, _, faults, _ := appAccess(m, e.mf, priv+pg+1, true, 'P'); sig != 0 || faults != 1 {
		t.Fatalf("first write: sig %d after %d faults", sig, faults)
	}
	for off := uint64(2 * pg); off < w; off += pg {
		if sig, _, faults, _ := appAccess(m, e.mf, priv+off, true, 'Q'); sig != 0 || faults != 0 {
			t.Fatalf("write at %#x in the copied window: sig %d after %d faults", off, sig, faults)
		}
	}
	if e.mf.Slice(f.fr)[pg+1] != '1' || e.mf.Slice(f.fr)[2*pg] != '0' {
		t.Error("private writes reached the file")
	}
	appAccess(m, e.mf, shared+w+pg, true, 'S')
	if _, _, _, v := appAccess(m, e.mf, priv+w+pg, false, 0); v != 'S' {
		t.Errorf("private page outside the copied window does not follow the file: %q", v)
	}
}

// TestFaultAroundLibrary: the first fault in a library mapped the way a
// dynamic loader maps one (headers r--, text r-x, read-only data r--, data
// rw- private, all of one file, each its own vma) maps what the fault
// window holds of all four in one request, the written data page once; the
// library's first reads and writes then take no fault. Another file's vma
// next to it, and a shared writable one of the same file, are left alone.
func TestFaultAroundLibrary(t *testing.T) {
	e := newEnv(t)
	m, b := newBatchMM(t, e)
	f := newFakeFile(t, e.mf, bytes.Repeat([]byte("0123456789abcdef"), 8*pg/16))
	other := newFakeFile(t, e.mf, bytes.Repeat([]byte("o"), pg))
	const base = 0x40000000 // fileFaultWindow-aligned, as a loader aligns
	lib := func(off, n uint64, perms usermem.AccessType, shared bool) {
		mustMMap(t, m, MMapOpts{Addr: base + off*pg, Fixed: true, Length: n * pg, Private: !shared, Perms: perms, MaxPerms: usermem.AnyAccess, Mappable: f, Offset: off * pg, Name: "/lib/x.so"})
	}
	lib(0, 1, usermem.Read, false)
	lib(1, 2, usermem.AccessType{Read: true, Execute: true}, false)
	lib(3, 1, usermem.Read, false)
	lib(4, 2, usermem.ReadWrite, false)
	lib(6, 1, usermem.ReadWrite, true)
	mustMMap(t, m, MMapOpts{Addr: base + 7*pg, Fixed: true, Length: pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess, Mappable: other})
	requests := func() int { return b.batches + b.mapCount() - b.entries }

	// The loader's relocations write the data first (a write to an
	// unmapped page, as systrap reports it).
	if sig, _ := m.HandleFault(base+4*pg+8, usermem.Write, segvMapErr); sig != 0 {
		t.Fatalf("data write: sig %d", sig)
	}
	if sig, _, faults, _ := appAccess(m, e.mf, base+4*pg+8, true, 'D'); sig != 0 || faults != 0 {
		t.Fatalf("data write: sig %d after %d more faults", sig, faults)
	}
	if n := requests(); n != 1 {
		t.Errorf("the first fault took %d map requests, want 1", n)
	}
	if n := b.mapCount(); n > 4 {
		t.Errorf("%d mappings for 4 vmas", n)
	}
	for _, c := range []struct {
		page, off uint64
		write     bool
		want      byte
	}{{0, 0, false, '0'}, {1, 1, false, '1'}, {2, 2, false, '2'}, {3, 3, false, '3'}, {5, 0, true, 'E'}, {4, 8, false, 'D'}} {
		if sig, _, faults, v := appAccess(m, e.mf, base+c.page*pg+c.off, c.write, 'E'); sig != 0 || faults != 0 || v != c.want {
			t.Errorf("page %d (write %v): sig %d after %d faults, read %q", c.page, c.write, sig, faults, v)
		}
	}
	for _, page := range []uint64{6, 7} {
		if _, ok := fas(m).lookup(base + page*pg); ok {
			t.Errorf("page %d mapped by the library's fault", page)
		}
	}
	if pm, _ := fas(m).lookup(base + pg); pm.perms.Write || !pm.perms.Execute || pm.off != f.fr.Start+pg {
		t.Errorf("text mapped %+v", pm)
	}
	if e.mf.Slice(f.fr)[4*pg+8] != '8' {
		t.Error("a private write reached the file")
	}
	checkInvariants(t, m)
	releaseAll(t, e, m, f, other)
}

// TestCOWRun: writes through a private file mapping page after page (a
// loader relocating a large data segment) copy ever larger runs, up to
// maxCOWRun, so 2 MiB take a handful of faults rather than one per
// cowWindow; a write elsewhere starts over with one window, and the pages
// past it still show the file.
func TestCOWRun(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	const size = 2 << 20
	f := newFakeFile(t, e.mf, bytes.Repeat([]byte("0123456789abcdef"), size/16))
	f.maxChunk = size
	priv := mustMMap(t, m, MMapOpts{Addr: 0x40000000, Fixed: true, Length: size, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
	shared := mustMMap(t, m, MMapOpts{Length: size, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
	faults := 0
	for off := uint64(0); off < size/2; off += pg {
		sig, _, n, _ := appAccess(m, e.mf, priv+off, true, 'W')
		if sig != 0 {
			t.Fatalf("write at %#x: signal %d", off, sig)
		}
		faults += n
	}
	t.Logf("1 MiB written page by page: %d faults", faults)
	// 64K, 128K, 256K, 512K: 1 MiB in at most 4 breaks (each a fault to
	// map and one to copy, as appAccess reports them), not 16.
	if faults > 10 {
		t.Errorf("1 MiB written page by page took %d faults", faults)
	}
	// Elsewhere: one window again.
	appAccess(m, e.mf, priv+size-pg, true, 'X')
	appAccess(m, e.mf, shared+size-4*cowWindow, true, 'S')
	if _, _, _, v := appAccess(m, e.mf, priv+size-4*cowWindow, false, 0); v != 'S' {
		t.Errorf("a page far below a lone write was copied: reads %q, not the file's change", v)
	}
	if e.mf.Slice(f.fr)[0] != '0' {
		t.Error("a private write reached the file")
	}
	checkInvariants(t, m)
}

// historyFile is a fakeFile with a fault history.
type historyFile struct {
	*fakeFile
	h memmap.FaultHistory
}

func (f *historyFile) FaultHistory() *memmap.FaultHistory { return &f.h }

// TestFaultHistoryFill: the windows of a file one address space faulted
// on are filled and mapped, in one request, at the next address space's
// first fault in a vma of the file (at another address, across the
// library's other vmas), and before a new image runs (PrefaultExec); a
// window nobody touched still faults, and a shared writable mapping
// neither records nor fills.
func TestFaultHistoryFill(t *testing.T) {
	e := newEnv(t)
	const w = fileFaultWindow
	f := &historyFile{fakeFile: newFakeFile(t, e.mf, bytes.Repeat([]byte("0123456789abcdef"), 16*w/16))}
	f.maxChunk = 16 * w
	defer f.release()
	rx := usermem.AccessType{Read: true, Execute: true}
	// A library: text in windows 0-11, data after it.
	mapLib := func(m *MemoryManager, base uint64) {
		mustMMap(t, m, MMapOpts{Addr: base, Fixed: true, Length: 12 * w, Private: true, Perms: rx, MaxPerms: usermem.AnyAccess, Mappable: f})
		mustMMap(t, m, MMapOpts{Addr: base + 12*w, Fixed: true, Length: 4 * w, Offset: 12 * w, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
	}
	newMM := func() (*MemoryManager, *fakeBatchAS) {
		m, b := newBatchMM(t, e)
		t.Cleanup(m.Release)
		return m, b
	}
	first, _ := newMM()
	mapLib(first, 0x40000000)
	for _, win := range []uint64{1, 5, 9, 13} {
		if _, _, faults, _ := appAccess(first, e.mf, 0x40000000+win*w+8, false, 0); faults != 1 {
			t.Fatalf("first: window %d took %d faults", win, faults)
		}
	}

	second, b := newMM()
	mapLib(second, 0x50000000+3*usermem.PageSize)
	base := uint64(0x50000000 + 3*usermem.PageSize)
	if sig, _ := second.HandleFault(base+13*w+8, usermem.Read, segvMapErr); sig != 0 {
		t.Fatalf("second: data fault: signal %d", sig)
	}
	if n := b.batches + b.mapCount() - b.entries; n != 1 {
		t.Errorf("second: the first fault took %d requests", n)
	}
	for _, win := range []uint64{1, 5, 9} {
		if _, _, faults, v := appAccess(second, e.mf, base+win*w+8, false, 0); faults != 0 || v != '8' {
			t.Errorf("second: window %d remembered: %d faults, read %q", win, faults, v)
		}
	}
	if _, _, faults, _ := appAccess(second, e.mf, base+7*w, false, 0); faults != 1 {
		t.Errorf("second: window 7, never touched: %d faults, want 1", faults)
	}

	third := NewDeferredMemoryManager(fakePlatform{}, e.mf)
	defer third.Release()
	mapLib(third, 0x60000000)
	third.PrefaultExec(0x60000000)
	mustOK(t, third.Activate())
	for _, win := range []uint64{1, 5, 7, 9, 13} {
		if _, ok := fas(third).lookup(0x60000000 + win*w + 8); !ok {
			t.Errorf("exec: window %d remembered but not mapped", win)
		}
	}
	if _, ok := fas(third).lookup(0x60000000 + 3*w); ok {
		t.Error("exec: window 3, never touched, mapped")
	}

	// A window the sentry filled for its own copy (a path the program
	// passed) is remembered at the program's first touch of it.
	fourth, _ := newMM()
	mapLib(fourth, 0x70000000)
	var buf [8]byte
	if _, err := fourth.CopyIn(0x70000000+14*w, buf[:]); err != nil {
		t.Fatal(err)
	}
	if _, _, faults, _ := appAccess(fourth, e.mf, 0x70000000+14*w, false, 0); faults != 1 {
		t.Errorf("fourth: window 14 after the sentry's copy: %d faults", faults)
	}
	if got := f.h.AppendRange(nil, 14, 15, 1); len(got) != 1 {
		t.Error("fourth: the first touch of a window the sentry filled was not remembered")
	}

	shared, _ := newMM()
	a := mustMMap(t, shared, MMapOpts{Length: 16 * w, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
	appAccess(shared, e.mf, a+2*w, false, 0)
	if _, ok := fas(shared).lookup(a + 5*w); ok {
		t.Error("a shared writable mapping filled a remembered window")
	}
	if got := f.h.AppendRange(nil, 2, 3, 1); len(got) != 0 {
		t.Error("a shared writable mapping's fault was remembered")
	}
}

// TestFaultPopulatesCommitted: a fault whose fresh anonymous window reuses
// freed pages that all have host memory maps it populated, zeroed; one
// whose window reuses pages an earlier owner touched only in part, or
// fresh pages, maps it lazily (populating would allocate them).
func TestFaultPopulatesCommitted(t *testing.T) {
	const n = 64
	e := newEnv(t)
	m, as := newBatchMM(t, e)
	defer m.Release()
	round := func(touch func(i uint64) bool) int {
		t.Helper()
		addr := mustMMap(t, m, anonOpts(n*pg))
		before := as.populated
		for i := uint64(0); i < n; i++ {
			if !touch(i) {
				continue
			}
			sig, _, _, got := appAccess(m, e.mf, addr+i*pg, false, 0)
			if sig != 0 || got != 0 {
				t.Fatalf("read of page %d: signal %d, byte %#x", i, sig, got)
			}
			appAccess(m, e.mf, addr+i*pg, true, 0x77)
		}
		populated := as.populated - before
		if err := m.MUnmap(addr, n*pg); err != nil {
			t.Fatal(err)
		}
		return populated
	}
	all := func(uint64) bool { return true }
	if got := round(func(i uint64) bool { return i%8 == 0 }); got != 0 {
		t.Errorf("fresh pages: %d populated, want 0", got)
	}
	if got := round(all); got != 0 {
		t.Errorf("reused pages touched sparsely before: %d populated, want 0", got)
	}
	if got := round(all); got != n {
		t.Errorf("reused pages all touched before: %d populated, want %d", got, n)
	}
	if got := round(all); got != n {
		t.Errorf("reused pages populated and touched before: %d populated, want %d", got, n)
	}
}

// TestMAPPopulateFillsHostTables: MAP_POPULATE commits the pages and maps
// them populated, so that the application takes no host fault on them
// later; MADV_POPULATE_WRITE over a range not filled yet does the same.
func TestMAPPopulateFillsHostTables(t *testing.T) {
	const n = 16
	e := newEnv(t)
	m, as := newBatchMM(t, e)
	defer m.Release()
	opts := anonOpts(n * pg)
	opts.Precommit = true
	addr := mustMMap(t, m, opts)
	if as.populated != n {
		t.Errorf("MAP_POPULATE of %d pages: %d mapped populated", n, as.populated)
	}
	for i := uint64(0); i < n; i++ {
		if _, ok := as.lookup(addr + i*pg); !ok {
			t.Fatalf("page %d not mapped after MAP_POPULATE", i)
		}
	}
	addr2 := mustMMap(t, m, anonOpts(n*pg))
	before := as.populated
	if err := m.MAdvise(addr2, n*pg, unix.MADV_POPULATE_WRITE); err != nil {
		t.Fatal(err)
	}
	if got := as.populated - before; got != n {
		t.Errorf("MADV_POPULATE_WRITE of %d pages: %d mapped populated", n, got)
	}
	checkInvariants(t, m)
}

// TestSmallVMAOneWindow: a mapping no longer than the fault window is
// filled and mapped whole by its first fault, even across the window's
// alignment boundary (two faults before, each an allocation and a map
// request).
func TestSmallVMAOneWindow(t *testing.T) {
	const n = 16
	e := newEnv(t)
	m := e.mm
	at := uint64(64*anonFaultWindow) - n/2*pg
	opts := anonOpts(n * pg)
	opts.Addr, opts.Fixed = at, true
	addr := mustMMap(t, m, opts)
	if addr != at {
		t.Fatalf("mapped at %#x, want %#x", addr, at)
	}
	if sig, _ := m.HandleFault(addr, usermem.Write, segvMapErr); sig != 0 {
		t.Fatalf("fault: signal %d", sig)
	}
	as := fas(m)
	for i := uint64(0); i < n; i++ {
		if _, ok := as.lookup(addr + i*pg); !ok {
			t.Errorf("page %d (across the boundary: %v) not mapped by the first fault", i, i >= n/2)
		}
	}
	checkInvariants(t, m)
}
