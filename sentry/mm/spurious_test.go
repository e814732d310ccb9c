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
