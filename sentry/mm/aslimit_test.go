package mm

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestAddressSpaceLimit(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	m.SetAddressSpaceLimit(8 * pg)
	a := mustMMap(t, m, anonOpts(4*pg))
	if _, err := m.MMap(anonOpts(5 * pg)); err != unix.ENOMEM {
		t.Errorf("mmap beyond RLIMIT_AS = %v, want ENOMEM", err)
	}
	// Replacing mapped pages with MAP_FIXED does not grow the space.
	o := anonOpts(4 * pg)
	o.Fixed, o.Unmap, o.Addr = true, true, a
	mustMMap(t, m, o)
	if _, err := m.MRemap(a, 4*pg, 9*pg, unix.MREMAP_MAYMOVE, 0); err != unix.ENOMEM {
		t.Errorf("mremap beyond RLIMIT_AS = %v, want ENOMEM", err)
	}
	if _, err := m.MRemap(a, 4*pg, 8*pg, unix.MREMAP_MAYMOVE, 0); err != nil {
		t.Errorf("mremap up to RLIMIT_AS: %v", err)
	}
	m.SetAddressSpaceLimit(^uint64(0))
	mustMMap(t, m, anonOpts(64*pg))
	checkInvariants(t, m)
}
