package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// TestSpuriousFaultsPerThread: many threads whose write faults on one page
// were all taken before one of them upgraded it are all retried, while one
// thread's second fault on the page is real.
func TestSpuriousFaultsPerThread(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	w := mustMMap(t, m, anonOpts(pg))
	appAccess(m, e.mf, w, true, 1) // mapped read-write on the host
	threads := make([]SpuriousFault, 100)
	for i := range threads {
		if sig, _ := m.HandleThreadFault(w, usermem.Write, segvAccErr, &threads[i]); sig != 0 {
			t.Fatalf("thread %d: its first spurious fault was not retried", i)
		}
	}
	if sig, code := m.HandleThreadFault(w, usermem.Write, segvAccErr, &threads[7]); sig != int32(unix.SIGSEGV) || code != segvAccErr {
		t.Errorf("a thread's second fault on the page: %d/%d, want SIGSEGV/SEGV_ACCERR", sig, code)
	}
	// A record from another address space does not count here.
	other := newEnv(t).mm
	if sig, _ := other.HandleThreadFault(0x1234, usermem.NoAccess, segvMapErr, &threads[8]); sig == 0 {
		t.Fatal("fault on an unmapped address was retried")
	}
	if sig, _ := m.HandleThreadFault(w, usermem.Write, segvAccErr, &threads[8]); sig != 0 {
		t.Error("a record of another address space made a first fault real")
	}
}

// TestSpuriousFaultAfterLayoutChange: a thread's second spurious fault on a
// page is a new one, and retried, when the layout changed in between (here
// a fork made the page copy-on-write and a write fault broke it again, as
// a forking thread does under a writing one): only a repeat with no change
// is real.
func TestSpuriousFaultAfterLayoutChange(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	w := mustMMap(t, m, anonOpts(pg))
	appAccess(m, e.mf, w, true, 1)
	var th SpuriousFault
	if sig, _ := m.HandleThreadFault(w, usermem.Write, segvAccErr, &th); sig != 0 {
		t.Fatal("first spurious fault not retried")
	}
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	var other SpuriousFault
	if sig, _ := m.HandleThreadFault(w, usermem.Write, segvAccErr, &other); sig != 0 {
		t.Fatal("write fault on the copy-on-write page not handled")
	}
	if sig, _ := m.HandleThreadFault(w, usermem.Write, segvAccErr, &th); sig != 0 {
		t.Error("a spurious fault after a layout change was taken as real")
	}
	if sig, _ := m.HandleThreadFault(w, usermem.Write, segvAccErr, &th); sig != int32(unix.SIGSEGV) {
		t.Error("a repeated spurious fault with no change in between was retried")
	}
}
