package mm

import (
	"testing"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
	"golang.org/x/sys/unix"
)

// fakeProtectPlatform creates fakeProtectASes.
type fakeProtectPlatform struct{ fakePlatform }

func (fakeProtectPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return &fakeProtectAS{fakeAS: &fakeAS{pages: make(map[uint64]fakeMapping)}}, nil
}

// fakeProtectAS is a fakeAS that changes access in place
// (platform.Protector), as mprotect does: up to the first page it does
// not map.
type fakeProtectAS struct {
	*fakeAS
	protects int
}

func (as *fakeProtectAS) Protect(addr, length uint64, at usermem.AccessType) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.protects++
	for a := addr; a < addr+length; a += usermem.PageSize {
		pm, ok := as.pages[a]
		if !ok {
			return unix.ENOMEM
		}
		pm.perms = at
		as.pages[a] = pm
	}
	return nil
}

func newParkEnv(t *testing.T) (*env, *fakeProtectAS) {
	t.Helper()
	e := newEnvOn(t, fakeProtectPlatform{})
	return e, e.mm.AddressSpace().(*fakeProtectAS)
}

const parkTest = 1 << 20

// touchAll writes val to every page of [addr, addr+n) as the application.
func touchAll(t *testing.T, e *env, addr, n uint64, val byte) {
	t.Helper()
	for a := addr; a < addr+n; a += usermem.PageSize {
		if sig, _, _, _ := appAccess(e.mm, e.mf, a, true, val); sig != 0 {
			t.Fatalf("write %#x: signal %d", a, sig)
		}
	}
}

// TestParkReuse: munmap of touched anonymous memory parks it (the host
// mapping stays, inaccessible; nothing is unmapped), the old address
// faults as unmapped, and a new mapping there takes the pages back with
// one fault, zeroed, mapped by one Protect and no MapFile.
func TestParkReuse(t *testing.T) {
	e, as := newParkEnv(t)
	m := e.mm
	addr := mustMMap(t, m, anonOpts(parkTest))
	touchAll(t, e, addr, parkTest, 0x5a)
	maps, unmaps := as.mapCount(), as.unmaps
	if err := m.MUnmap(addr, parkTest); err != nil {
		t.Fatal(err)
	}
	if len(m.parked) != 1 || as.unmaps != unmaps {
		t.Fatalf("after munmap: %d parked ranges, %d unmaps; want 1 parked, none unmapped", len(m.parked), as.unmaps-unmaps)
	}
	if u := e.mf.Usage(); u.Kept != parkTest || u.Allocated != parkTest {
		t.Fatalf("usage after munmap %+v, want %d kept and allocated", u, parkTest)
	}
	checkInvariants(t, m)
	if sig, code, _, _ := appAccess(m, e.mf, addr+5*usermem.PageSize, false, 0); sig != int32(unix.SIGSEGV) || code != segvMapErr {
		t.Fatalf("read of the unmapped range: signal %d code %d, want SIGSEGV SEGV_MAPERR", sig, code)
	}
	again := mustMMap(t, m, anonOpts(parkTest))
	if again != addr {
		t.Fatalf("new mapping at %#x, want the freed %#x", again, addr)
	}
	protects := as.protects
	sig, _, faults, got := appAccess(m, e.mf, addr+7*usermem.PageSize, false, 0)
	if sig != 0 || faults != 1 || got != 0 {
		t.Fatalf("first read: signal %d, %d faults, byte %#x; want 0, 1, 0", sig, faults, got)
	}
	if as.mapCount() != maps || as.protects != protects+1 || len(m.parked) != 0 {
		t.Fatalf("take-back: %d MapFiles, %d Protects, %d parked; want none, 1, 0", as.mapCount()-maps, as.protects-protects, len(m.parked))
	}
	for a := addr; a < addr+parkTest; a += usermem.PageSize {
		if _, _, f, b := appAccess(m, e.mf, a, false, 0); f != 0 || b != 0 {
			t.Fatalf("page %#x: %d faults, byte %#x; want no fault and zero", a, f, b)
		}
		pm, _ := as.lookup(a)
		if b := e.mf.Slice(memfile.Range{Start: pm.off, End: pm.off + usermem.PageSize}); b[usermem.PageSize-1] != 0 {
			t.Fatalf("page %#x not zeroed at its end", a)
		}
	}
	if u := e.mf.Usage(); u.Kept != 0 {
		t.Fatalf("kept %d after the take-back", u.Kept)
	}
	checkInvariants(t, m)
	releaseAll(t, e, m)
}

// TestParkDropped: a parked range is unmapped from the host and released
// when a file is mapped over it or grown over it, when an anonymous
// mapping covers part of it, when a fault's window overlaps it
// without taking it back, and when newer ones leave no room; what is
// parked at Release is released too.
func TestParkDropped(t *testing.T) {
	e, as := newParkEnv(t)
	m := e.mm
	f := newFakeFile(t, e.mf, make([]byte, parkTest))

	park := func() uint64 {
		t.Helper()
		a := mustMMap(t, m, anonOpts(parkTest))
		touchAll(t, e, a, parkTest, 1)
		if err := m.MUnmap(a, parkTest); err != nil || len(m.parked) == 0 {
			t.Fatalf("munmap: %v, %d parked", err, len(m.parked))
		}
		return a
	}
	unmapped := func(a uint64) bool {
		_, ok := as.lookup(a)
		return !ok
	}

	// A file mapped over it.
	a := park()
	fo := MMapOpts{Length: parkTest, Addr: a, Fixed: true, Unmap: true, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess, Mappable: f, Hold: f.hold}
	mustMMap(t, m, fo)
	if len(m.parked) != 0 || !unmapped(a) {
		t.Fatalf("file over a parked range: %d parked, host unmapped %v", len(m.parked), unmapped(a))
	}
	checkInvariants(t, m)
	if err := m.MUnmap(a, parkTest); err != nil {
		t.Fatal(err)
	}

	// A file mapping below it grown over it in place (mremap).
	a = park()
	below := a - 4*usermem.PageSize
	fo = MMapOpts{Length: 4 * usermem.PageSize, Addr: below, Fixed: true, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess, Mappable: f, Hold: f.hold}
	mustMMap(t, m, fo)
	if got, err := m.MRemap(below, 4*usermem.PageSize, 4*usermem.PageSize+parkTest, 0, 0); err != nil || got != below {
		t.Fatalf("mremap in place: %#x, %v", got, err)
	}
	if len(m.parked) != 0 || !unmapped(a) {
		t.Fatalf("a file mapping grown over a parked range: %d parked, host unmapped %v", len(m.parked), unmapped(a))
	}
	checkInvariants(t, m)
	if err := m.MUnmap(below, 4*usermem.PageSize+parkTest); err != nil {
		t.Fatal(err)
	}

	// An anonymous mapping over part of it.
	a = park()
	half := mustMMap(t, m, MMapOpts{Length: parkTest, Addr: a + parkTest/2, Fixed: true, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess})
	if len(m.parked) != 0 || !unmapped(a) {
		t.Fatalf("a mapping over part of a parked range: %d parked, host unmapped %v", len(m.parked), unmapped(a))
	}
	checkInvariants(t, m)
	if err := m.MUnmap(half, parkTest); err != nil {
		t.Fatal(err)
	}
	dropAllParked(m)

	// A fault beside it whose window overlaps it: the new mapping covers
	// it and the megabyte below.
	a = park()
	below = mustMMap(t, m, MMapOpts{Length: 2 * parkTest, Addr: a - parkTest, Fixed: true, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess})
	if len(m.parked) != 1 {
		t.Fatalf("a mapping over all of a parked range dropped it")
	}
	if sig, _, _, b := appAccess(m, e.mf, below, false, 0); sig != 0 || b != 0 {
		t.Fatalf("read: signal %d byte %#x", sig, b)
	}
	if len(m.parked) != 0 {
		t.Fatalf("fault beside a parked range: %d parked", len(m.parked))
	}
	if _, _, _, b := appAccess(m, e.mf, a, false, 0); b != 0 {
		t.Fatalf("the dropped range reads %#x", b)
	}
	checkInvariants(t, m)
	if err := m.MUnmap(below, 2*parkTest); err != nil {
		t.Fatal(err)
	}
	dropAllParked(m)

	// Room: the oldest go first.
	var first []uint64
	for i := 0; i < parkRanges+2; i++ {
		a := mustMMap(t, m, anonOpts(parkTest))
		touchAll(t, e, a, parkTest, 1)
		first = append(first, a)
	}
	for _, a := range first {
		if err := m.MUnmap(a, parkTest); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.parked) > parkRanges || m.parkedBytes > parkMax || m.parkedBytes != e.mf.Usage().Kept {
		t.Fatalf("%d parked, %d bytes (kept %d); want at most %d, %d", len(m.parked), m.parkedBytes, e.mf.Usage().Kept, parkRanges, parkMax)
	}
	if !unmapped(first[0]) || unmapped(first[len(first)-1]) {
		t.Fatalf("the oldest range should be unmapped, the newest parked")
	}
	checkInvariants(t, m)
	releaseAll(t, e, m, f)
	if u := e.mf.Usage(); u.Kept != 0 {
		t.Fatalf("kept %d after Release", u.Kept)
	}
}

// TestParkRefused: memory shared with a forked child or pinned, a range
// over two vmas, with pages never filled or touched sparsely, and a
// platform that cannot protect in place are unmapped as before; part of a
// vma is parked alone; a parked range that lost host memory is not taken
// back (its pages are released, and fresh ones mapped).
func TestParkRefused(t *testing.T) {
	e, as := newParkEnv(t)
	m := e.mm

	a := mustMMap(t, m, anonOpts(parkTest))
	touchAll(t, e, a, parkTest, 1)
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.MUnmap(a, parkTest); err != nil || len(m.parked) != 0 {
		t.Fatalf("munmap of pages a child shares: %v, %d parked", err, len(m.parked))
	}
	a = mustMMap(t, m, anonOpts(parkTest))
	touchAll(t, e, a, parkTest, 0)
	if _, _, _, b := appAccess(child, e.mf, a, false, 0); b != 1 {
		t.Fatalf("child reads %#x, want 1", b)
	}
	child.Release()
	m.MUnmap(a, parkTest)

	// Pages pinned by a transfer in flight (another thread's read into
	// them): its bytes must not land in the next mapping.
	a = mustMMap(t, m, anonOpts(parkTest))
	touchAll(t, e, a, parkTest, 1)
	pinned, ok := m.PinForWrite(a, usermem.PageSize, make([]memfile.Range, 0, 1))
	if !ok {
		t.Fatal("pin failed")
	}
	if err := m.MUnmap(a, parkTest); err != nil || len(m.parked) != 0 {
		t.Fatalf("munmap of pinned pages: %v, %d parked", err, len(m.parked))
	}
	m.Unpin(pinned)

	// Two vmas (they differ in access), and a vma filled in part.
	a = mustMMap(t, m, anonOpts(2*parkTest))
	m.MProtect(a+parkTest, parkTest, usermem.Read, false)
	touchAll(t, e, a, parkTest, 1)
	appAccess(m, e.mf, a+parkTest, false, 0)
	n := len(m.parked)
	if err := m.MUnmap(a, 2*parkTest); err != nil || len(m.parked) != n {
		t.Fatalf("munmap of two vmas: %v, %d parked", err, len(m.parked)-n)
	}
	a = mustMMap(t, m, anonOpts(4*parkTest))
	touchAll(t, e, a, usermem.PageSize, 1)
	if err := m.MUnmap(a, 4*parkTest); err != nil || len(m.parked) != n {
		t.Fatalf("munmap of a vma filled in part: %v, %d parked", err, len(m.parked)-n)
	}
	checkInvariants(t, m)

	// Half of a mapping's pages: the other half stays.
	dropAllParked(m)
	a = mustMMap(t, m, anonOpts(2*parkTest))
	touchAll(t, e, a, 2*parkTest, 1)
	if err := m.MUnmap(a, parkTest); err != nil || len(m.parked) != 1 {
		t.Fatalf("munmap of half a vma: %v, %d parked", err, len(m.parked))
	}
	checkInvariants(t, m)
	if _, _, _, b := appAccess(m, e.mf, a+parkTest, false, 0); b != 1 {
		t.Fatalf("the kept half reads %#x, want 1", b)
	}
	m.MUnmap(a+parkTest, parkTest)

	// Sparse: one page of a megabyte touched is not parked; a parked
	// range that lost host memory since (swapped out) is not taken back.
	dropAllParked(m)
	sparse := func(a uint64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if v := m.findVMALocked(a); v != nil && len(v.pmas) == 1 {
			e.mf.Decommit(v.pmas[0].fileRange(a+usermem.PageSize, a+parkTest))
		}
	}
	a = mustMMap(t, m, anonOpts(parkTest))
	appAccess(m, e.mf, a, true, 9)
	sparse(a)
	if err := m.MUnmap(a, parkTest); err != nil || len(m.parked) != 0 {
		t.Fatalf("munmap of a sparse range: %v, %d parked", err, len(m.parked))
	}
	a = mustMMap(t, m, anonOpts(parkTest))
	touchAll(t, e, a, parkTest, 9)
	if err := m.MUnmap(a, parkTest); err != nil || len(m.parked) != 1 {
		t.Fatalf("munmap: %v, %d parked", err, len(m.parked))
	}
	e.mf.Decommit(memfile.Range{Start: m.parked[0].fr.Start + usermem.PageSize, End: m.parked[0].fr.End})
	b := mustMMap(t, m, anonOpts(parkTest))
	maps := as.mapCount()
	if _, _, _, got := appAccess(m, e.mf, b, false, 0); got != 0 || len(m.parked) != 0 || as.mapCount() == maps {
		t.Fatalf("range gone sparse: read %#x, %d parked, %d MapFiles; want 0, 0, a new mapping", got, len(m.parked), as.mapCount()-maps)
	}
	checkInvariants(t, m)
	releaseAll(t, e, m)

	// No Protector: nothing is parked.
	e2 := newEnv(t)
	a = mustMMap(t, e2.mm, anonOpts(parkTest))
	touchAll(t, e2, a, parkTest, 1)
	e2.mm.MUnmap(a, parkTest)
	if len(e2.mm.parked) != 0 {
		t.Fatalf("parked without a Protector")
	}
	releaseAll(t, e2, e2.mm)
}

// dropAllParked drops every parked range of m.
func dropAllParked(m *MemoryManager) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.parked) > 0 {
		m.dropParkedAtLocked(0)
	}
}
