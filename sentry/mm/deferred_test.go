package mm

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// countingPlatform counts the address spaces it makes, or fails to make
// them with err.
type countingPlatform struct {
	fakePlatform
	made *int
	err  error
}

func (p countingPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	if p.err != nil {
		return nil, p.err
	}
	*p.made++
	return fakePlatform{}.NewAddressSpace()
}

// TestDeferredAddressSpace: a deferred MemoryManager makes its platform
// address space only when activated; mapping, unmapping, protecting and
// writing memory (the loader's work) do not need one, and one never made
// is never released. Activate maps what is in memory by then.
func TestDeferredAddressSpace(t *testing.T) {
	e := newEnv(t)
	made := 0
	p := countingPlatform{made: &made}

	// Never activated (an execve that failed).
	m := NewDeferredMemoryManager(p, e.mf)
	a := mustMMap(t, m, anonOpts(4*pg))
	if _, err := m.CopyOut(a, []byte("stack")); err != nil {
		t.Fatalf("CopyOut: %v", err)
	}
	if err := m.MProtect(a, pg, usermem.Read, false); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	if err := m.MUnmap(a+2*pg, 2*pg); err != nil {
		t.Fatalf("MUnmap: %v", err)
	}
	if made != 0 || m.AddressSpace() != nil {
		t.Fatalf("%d address spaces made before activation", made)
	}
	m.Release()

	// Activated once, after the loader's writes, which it maps; a page
	// the loader did not touch is mapped by its first fault.
	m = NewDeferredMemoryManager(p, e.mf)
	a = mustMMap(t, m, anonOpts(4*pg))
	far := mustMMap(t, m, MMapOpts{Length: pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess})
	if _, err := m.CopyOut(a, []byte("stack")); err != nil {
		t.Fatalf("CopyOut: %v", err)
	}
	mustOK(t, m.Activate())
	mustOK(t, m.Activate())
	if made != 1 {
		t.Fatalf("%d address spaces made by two Activates, want 1", made)
	}
	as := fas(m)
	if mp, ok := as.lookup(a); !ok || !mp.perms.Write {
		t.Errorf("the loader's page after Activate: %+v (mapped %v)", mp, ok)
	}
	if _, ok := as.lookup(far); ok {
		t.Fatal("an untouched page was mapped before any fault")
	}
	if sig, _ := m.HandleFault(far, usermem.Read, segvMapErr); sig != 0 {
		t.Fatalf("fault: signal %d", sig)
	}
	if _, ok := as.lookup(far); !ok {
		t.Error("the fault mapped nothing")
	}
	var b [5]byte
	if _, err := m.CopyIn(a, b[:]); err != nil || string(b[:]) != "stack" {
		t.Errorf("CopyIn = %q, %v", b[:], err)
	}
	m.Release()
	if !as.released {
		t.Error("the address space was not released")
	}

	// A platform that cannot make one: Activate fails with its error.
	m = NewDeferredMemoryManager(countingPlatform{made: &made, err: unix.EAGAIN}, e.mf)
	mustMMap(t, m, anonOpts(pg))
	if err := m.Activate(); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("Activate = %v, want EAGAIN", err)
	}
	if m.AddressSpace() != nil {
		t.Error("a failed activation left an address space")
	}
	m.Release()
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestForkRemapOneBatch: fork write-protects the parent's private
// writable memory of every vma with one batch.
func TestForkRemapOneBatch(t *testing.T) {
	e := newEnv(t)
	m, b := newBatchMM(t, e)
	var addrs []uint64
	for i := 0; i < 3; i++ {
		a := mustMMap(t, m, anonOpts(2*pg))
		// A read-only page between them keeps the vmas apart.
		mustMMap(t, m, MMapOpts{Length: pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess})
		if sig, _ := m.HandleFault(a, usermem.Write, segvMapErr); sig != 0 {
			t.Fatalf("fault: signal %d", sig)
		}
		addrs = append(addrs, a)
	}
	if n := vmaCount(m); n < 3 {
		t.Fatalf("%d vmas", n)
	}
	b.batches = 0
	maps := b.mapCount()
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if b.batches != 1 || b.mapCount()-maps != 3 {
		t.Errorf("fork remapped with %d batches, %d mappings; want 1 batch of 3", b.batches, b.mapCount()-maps)
	}
	for _, a := range addrs {
		if pm, ok := b.lookup(a); !ok || pm.perms.Write {
			t.Errorf("%#x after fork: %+v (mapped %v)", a, pm, ok)
		}
	}
	m.Release()
}

// TestForkPrefault checks that Fork maps into the child, in one batch,
// what is in memory around the address it is given (the forking thread's
// rip), read-only where copy-on-write, and nothing elsewhere.
func TestForkPrefault(t *testing.T) {
	e := newEnv(t)
	m, _ := newBatchMM(t, e)
	defer m.Release()
	near := mustMMap(t, m, anonOpts(4*pg))
	far := mustMMap(t, m, anonOpts(4*pg))
	for _, a := range []uint64{near, near + 2*pg, far} {
		if sig, _ := m.HandleFault(a, usermem.Write, segvMapErr); sig != 0 {
			t.Fatalf("fault at %#x: signal %d", a, sig)
		}
	}
	child, err := m.Fork(near + 2*pg + 10)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	c := child.AddressSpace().(*fakeBatchAS)
	// One request: a batch, or one mapping alone (the window's pages are
	// one pma here).
	if n := c.mapCount(); c.batches > 1 || n == 0 || (c.batches == 0 && n != 1) {
		t.Errorf("child prefaulted with %d batches, %d mappings; want one request", c.batches, n)
	}
	for _, a := range []uint64{near, near + 2*pg} {
		if pm, ok := c.lookup(a); !ok || pm.perms.Write || !pm.perms.Read {
			t.Errorf("child's %#x after fork: %+v (mapped %v), want read-only", a, pm, ok)
		}
	}
	if far&^(anonFaultWindow-1) != near&^(anonFaultWindow-1) {
		if _, ok := c.lookup(far); ok {
			t.Errorf("child's %#x, outside the window, mapped at fork", far)
		}
	}
	// Its first write still copies.
	if sig, _ := child.HandleFault(near, usermem.Write, segvMapErr); sig != 0 {
		t.Fatalf("child's write fault: signal %d", sig)
	}
	if pm, ok := c.lookup(near); !ok || !pm.perms.Write {
		t.Errorf("child's %#x after its write fault: %+v (mapped %v)", near, pm, ok)
	}
}

// TestForkStackPage checks that the page of the forking thread's stack
// pointer is copied for the child at fork: neither side faults on it (both
// map it writable at once), and their writes stay apart, while the other
// pages stay copy-on-write.
func TestForkStackPage(t *testing.T) {
	e := newEnv(t)
	parent := e.mm
	st := mmapWritten(t, e, 4)
	sp := st + pg // its first byte, 2
	child, err := parent.Fork(0, sp+100)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	checkInvariants(t, parent)
	checkInvariants(t, child)
	if pm, ok := fas(parent).lookup(sp); !ok || !pm.perms.Write {
		t.Errorf("parent's stack page after fork: %+v (mapped %v), want writable", pm, ok)
	}
	if pm, ok := fas(parent).lookup(st); !ok || pm.perms.Write {
		t.Errorf("parent's other page after fork: %+v (mapped %v), want read-only", pm, ok)
	}
	if sig, _, faults, _ := appAccess(parent, e.mf, sp, true, 7); sig != 0 || faults != 0 {
		t.Errorf("parent's write to its stack page: signal %d, %d faults; want none", sig, faults)
	}
	if sig, _, faults, v := appAccess(child, e.mf, sp, false, 0); sig != 0 || faults != 0 || v != 2 {
		t.Errorf("child's read of the stack page: signal %d, %d faults, value %d; want 2, no fault", sig, faults, v)
	}
	if sig, _, faults, _ := appAccess(child, e.mf, sp, true, 8); sig != 0 || faults != 0 {
		t.Errorf("child's write to the stack page: signal %d, %d faults; want none", sig, faults)
	}
	if _, _, _, v := appAccess(parent, e.mf, sp, false, 0); v != 7 {
		t.Errorf("parent reads %d after the child's write, want 7", v)
	}
	if _, _, faults, _ := appAccess(child, e.mf, st, true, 9); faults == 0 {
		t.Error("child's write to another page did not fault: not copy-on-write")
	}
	if _, _, _, v := appAccess(parent, e.mf, st, false, 0); v != 1 {
		t.Errorf("parent reads %d after the child's write to another page, want its 1", v)
	}
	checkInvariants(t, parent)
	checkInvariants(t, child)
}

// TestPrefaultExec checks what PrefaultExec fills before Activate maps it:
// the fault window around the entry point in its executable vma, a small
// private writable file mapping copied (writable at once, the file
// untouched), a small read-only one, and nothing in a large one.
func TestPrefaultExec(t *testing.T) {
	e := newEnv(t)
	f := newFakeFile(t, e.mf, bytes.Repeat([]byte{'f'}, 8*pg))
	defer f.release()
	m := NewDeferredMemoryManager(fakePlatform{}, e.mf)
	defer m.Release()
	text := mustMMap(t, m, MMapOpts{Length: 4 * pg, Private: true, Perms: usermem.AccessType{Read: true, Execute: true}, MaxPerms: usermem.AnyAccess, Mappable: f})
	data := mustMMap(t, m, MMapOpts{Length: 2 * pg, Offset: 4 * pg, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: f})
	ro := mustMMap(t, m, MMapOpts{Length: pg, Offset: 6 * pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess, Mappable: f})
	big := mustMMap(t, m, anonOpts(execPrefaultMax+pg))
	m.PrefaultExec(text + pg + 5)
	mustOK(t, m.Activate())
	as := fas(m)
	for _, c := range []struct {
		what  string
		addr  uint64
		write bool
	}{{"entry", text + pg, false}, {"data", data, true}, {"data", data + pg, true}, {"read-only", ro, false}} {
		mp, ok := as.lookup(c.addr)
		if !ok || !mp.perms.Read || mp.perms.Write != c.write {
			t.Errorf("%s page %#x after PrefaultExec and Activate: %+v (mapped %v), want writable %v", c.what, c.addr, mp, ok, c.write)
		}
	}
	if _, ok := as.lookup(big); ok {
		t.Error("a large writable vma was filled")
	}
	if _, _, faults, _ := appAccess(m, e.mf, data, true, 'd'); faults != 0 {
		t.Errorf("a write to the data page faulted %d times", faults)
	}
	if b := e.mf.Slice(f.fr)[4*pg]; b != 'f' {
		t.Errorf("the file reads %q after a write to its private mapping", b)
	}
	checkInvariants(t, m)
}

// TestForkHints checks that a fork gives the child at once what earlier
// children of the process faulted on first: its own copy of a page they
// wrote, mapped writable, and a mapping of a page they read, so that the
// child does not fault on them; a page no child touched stays
// copy-on-write and unmapped.
func TestForkHints(t *testing.T) {
	e := newEnv(t)
	parent := e.mm
	data := mmapWritten(t, e, 4)
	// A read-only page between them keeps the vmas apart.
	mustMMap(t, parent, MMapOpts{Length: pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess})
	far := mustMMap(t, parent, anonOpts(pg))
	appAccess(parent, e.mf, far, true, 9)
	// A heap page the parent never touched, which its children write.
	fresh := mustMMap(t, parent, anonOpts(pg))
	first, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, faults, _ := appAccess(first, e.mf, data+2*pg, true, 0x22); faults == 0 {
		t.Fatal("the first child's write did not fault")
	}
	if _, _, faults, _ := appAccess(first, e.mf, far, false, 0); faults == 0 {
		t.Fatal("the first child's read did not fault")
	}
	if _, _, faults, _ := appAccess(first, e.mf, fresh, true, 0x66); faults == 0 {
		t.Fatal("the first child's write of a fresh page did not fault")
	}
	first.Release()

	second, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	checkInvariants(t, parent)
	checkInvariants(t, second)
	if sig, _, faults, v := appAccess(second, e.mf, data+2*pg, true, 0x33); sig != 0 || faults != 0 || v != 0x33 {
		t.Errorf("second child's write to the page the first wrote: signal %d, %d faults", sig, faults)
	}
	if _, _, faults, v := appAccess(second, e.mf, far, false, 0); faults != 0 || v != 9 {
		t.Errorf("second child's read of the page the first read: %d faults, value %d", faults, v)
	}
	if _, _, faults, v := appAccess(second, e.mf, fresh, false, 0); faults != 0 || v != 0 {
		t.Errorf("second child's read of the fresh page the first wrote: %d faults, value %d", faults, v)
	}
	if _, _, _, v := appAccess(parent, e.mf, fresh, false, 0); v != 0 {
		t.Errorf("parent reads %#x in its fresh page after its children's writes", v)
	}
	if _, _, _, v := appAccess(parent, e.mf, data+2*pg, false, 0); v != 3 {
		t.Errorf("parent reads %#x after the children's writes, want 3", v)
	}
	if sig, _, faults, _ := appAccess(parent, e.mf, data+2*pg, true, 0x44); sig != 0 || faults == 0 {
		t.Errorf("parent's write to a page it shares no more: signal %d, %d faults (copy-on-write from the first fork)", sig, faults)
	}
	if _, _, _, v := appAccess(second, e.mf, data+2*pg, false, 0); v != 0x33 {
		t.Errorf("second child reads %#x after the parent's write, want 0x33", v)
	}
	if pm, ok := fas(second).lookup(data + 3*pg); ok && pm.perms.Write {
		t.Errorf("a page no child wrote is writable in the child: %+v", pm)
	}
	if _, _, faults, v := appAccess(second, e.mf, data+3*pg, true, 0x55); faults == 0 || v != 0x55 {
		t.Errorf("second child's write to another page: %d faults, want a copy-on-write fault", faults)
	}
	if _, _, _, v := appAccess(parent, e.mf, data+3*pg, false, 0); v != 4 {
		t.Errorf("parent reads %#x after the child's write to another page, want 4", v)
	}
}

// TestForkHintsMany checks that the hints hold what a child of a
// dynamically linked program faults on first, more pages than a handful
// (the C library's fork handlers and _exit touch a dozen or two across
// its data, the dynamic linker's and the stack): a second child writes
// all 24 pages its elder wrote, in 24 vmas, without a fault.
func TestForkHintsMany(t *testing.T) {
	e := newEnv(t)
	parent := e.mm
	const n = 24
	var pages [n]uint64
	for i := range pages {
		pages[i] = mmapWritten(t, e, 1)
		// A read-only page after each keeps the vmas apart, so that
		// each write is a fault of its own.
		mustMMap(t, parent, MMapOpts{Length: pg, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess})
	}
	first, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range pages {
		if _, _, faults, _ := appAccess(first, e.mf, a, true, byte(0x40+i)); faults == 0 {
			t.Fatalf("the first child's write %d did not fault", i)
		}
	}
	first.Release()
	second, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	faulted := 0
	for i, a := range pages {
		if sig, _, faults, v := appAccess(second, e.mf, a, true, byte(0x80+i)); sig != 0 || v != byte(0x80+i) {
			t.Fatalf("second child's write %d: signal %d, value %#x", i, sig, v)
		} else if faults != 0 {
			faulted++
		}
	}
	if faulted != 0 {
		t.Errorf("the second child faulted on %d of the %d pages its elder wrote", faulted, n)
	}
	for i, a := range pages {
		if _, _, _, v := appAccess(parent, e.mf, a, false, 0); v != 1 {
			t.Errorf("parent reads %#x in page %d after its children's writes, want 1", v, i)
		}
	}
	checkInvariants(t, parent)
	checkInvariants(t, second)
}

// mmapWritten maps n private anonymous pages in e.mm, page i holding i+1
// in its first byte (written by the application, so faulted in), and
// returns their address.
func mmapWritten(t *testing.T, e *env, n uint64) uint64 {
	t.Helper()
	a := mustMMap(t, e.mm, anonOpts(n*pg))
	for i := uint64(0); i < n; i++ {
		appAccess(e.mm, e.mf, a+i*pg, true, byte(i+1))
	}
	return a
}

// TestForkSetTID: the page of the CLONE_CHILD_SETTID word, which the
// kernel writes into the child right after Fork, is the child's own copy
// from the start and mapped with the fork's prefault: the write takes no
// copy-on-write break and no map request, and the parent keeps its value.
func TestForkSetTID(t *testing.T) {
	e := newEnv(t)
	m, _ := newBatchMM(t, e)
	defer m.Release()
	heap := mustMMap(t, m, anonOpts(16*pg))
	appAccess(m, e.mf, heap+5*pg+16, true, 7)
	child, err := m.Fork(0, 0, heap+5*pg+16)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	c := child.AddressSpace().(*fakeBatchAS)
	requests := c.batches + c.mapCount() - c.entries
	if _, err := child.CopyOut(heap+5*pg+16, []byte{42}); err != nil {
		t.Fatal(err)
	}
	if n := c.batches + c.mapCount() - c.entries; n != requests {
		t.Errorf("the settid write took %d map requests", n-requests)
	}
	if sig, _, faults, v := appAccess(child, e.mf, heap+5*pg+16, true, 43); sig != 0 || faults != 0 || v != 43 {
		t.Errorf("child's write of its tid page: signal %d, %d faults", sig, faults)
	}
	if _, _, _, v := appAccess(m, e.mf, heap+5*pg+16, false, 0); v != 7 {
		t.Errorf("parent reads %d, want 7", v)
	}
}
