package mm

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

func TestFutexKeys(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	f := newFakeFile(t, e.mf, make([]byte, 4*pg))
	defer f.release()
	fileOpts := func(off uint64, private bool) MMapOpts {
		return MMapOpts{Length: 2 * pg, Offset: off, Private: private, Mappable: f,
			Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess}
	}
	a := mustMMap(t, m, fileOpts(0, false))
	b := mustMMap(t, m, fileOpts(pg, false))
	p := mustMMap(t, m, fileOpts(0, true))
	anon := mustMMap(t, m, anonOpts(pg))
	so := anonOpts(pg)
	so.Private = false
	shAnon := mustMMap(t, m, so)

	ka, err := m.SharedFutexKey(a + pg + 8)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := m.SharedFutexKey(b + 8)
	if err != nil {
		t.Fatal(err)
	}
	if ka != kb || ka.Offset != pg+8 {
		t.Errorf("two shared mappings of one file: keys %+v and %+v", ka, kb)
	}
	if k, _ := m.SharedFutexKey(a + 8); k == ka {
		t.Error("different file offsets share a key")
	}
	// Private memory is keyed by address space and address.
	want := m.PrivateFutexKey(p + 8)
	want.Shared = true
	if k, _ := m.SharedFutexKey(p + 8); k != want {
		t.Errorf("private file mapping: %+v", k)
	}
	want = m.PrivateFutexKey(anon)
	want.Shared = true
	if k, _ := m.SharedFutexKey(anon); k != want || k == m.PrivateFutexKey(anon) {
		t.Errorf("private anonymous mapping: %+v", k)
	}
	if _, err := m.SharedFutexKey(testMin); err != unix.EFAULT {
		t.Errorf("unmapped address: %v", err)
	}
	none := anonOpts(pg)
	none.Perms = usermem.NoAccess
	if _, err := m.SharedFutexKey(mustMMap(t, m, none)); err != unix.EFAULT {
		t.Errorf("PROT_NONE: %v", err)
	}

	// Across Fork: shared anonymous memory keeps its key; private memory
	// does not.
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	k1, _ := m.SharedFutexKey(shAnon + 4)
	k2, _ := child.SharedFutexKey(shAnon + 4)
	if k1 != k2 || k1.Object == any(m) {
		t.Errorf("shared anonymous memory across fork: %+v vs %+v", k1, k2)
	}
	k1, _ = m.SharedFutexKey(anon)
	k2, _ = child.SharedFutexKey(anon)
	if k1 == k2 {
		t.Error("private memory of two address spaces shares a key")
	}
}

func TestAtomicWords(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(pg))
	if v, err := m.LoadUint32(a); v != 0 || err != nil {
		t.Fatalf("LoadUint32 of fresh memory: %d, %v", v, err)
	}
	if got, err := m.CompareAndSwapUint32(a+4, 0, 7); got != 0 || err != nil {
		t.Fatalf("CAS: %d, %v", got, err)
	}
	if got, _ := m.CompareAndSwapUint32(a+4, 0, 9); got != 7 {
		t.Fatalf("failed CAS returned %d, want 7", got)
	}
	if v, _ := m.LoadUint32(a + 4); v != 7 {
		t.Fatalf("word is %d", v)
	}
	if _, err := m.LoadUint32(a + 2); err != unix.EINVAL {
		t.Errorf("unaligned: %v", err)
	}
	if _, err := m.LoadUint32(testMin); err != unix.EFAULT {
		t.Errorf("unmapped: %v", err)
	}
	ro := anonOpts(pg)
	ro.Perms = usermem.Read
	r := mustMMap(t, m, ro)
	if _, err := m.LoadUint32(r); err != nil {
		t.Errorf("read-only load: %v", err)
	}
	if _, err := m.CompareAndSwapUint32(r, 0, 1); err != unix.EFAULT {
		t.Errorf("read-only CAS: %v", err)
	}

	// A CAS in a forked child breaks copy-on-write.
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if got, err := child.CompareAndSwapUint32(a+4, 7, 8); got != 7 || err != nil {
		t.Fatalf("child CAS: %d, %v", got, err)
	}
	if v, _ := m.LoadUint32(a + 4); v != 7 {
		t.Errorf("child's CAS leaked into the parent: %d", v)
	}
	checkInvariants(t, m)
	checkInvariants(t, child)

	// Concurrent increments through CAS lose nothing.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				for {
					v, _ := m.LoadUint32(a + 8)
					if got, _ := m.CompareAndSwapUint32(a+8, v, v+1); got == v {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	if v, _ := m.LoadUint32(a + 8); v != 8000 {
		t.Errorf("concurrent CAS increments: %d", v)
	}
}
