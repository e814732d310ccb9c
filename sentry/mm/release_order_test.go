package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

// watchOldPage makes the address space of m check, whenever a host mapping
// is about to change, that the page the host still maps there holds want:
// another thread of the application reads it until the change is done,
// so it must not have been freed (a freed page reads as zero, or is
// already another process' page). A hook may first run before(), the
// action of another task racing with the change.
func watchOldPage(t *testing.T, m *MemoryManager, mf *memfile.MemoryFile, want byte, before func()) *int {
	t.Helper()
	checks := new(int)
	fas(m).beforeChange = func(old fakeMapping, mapped bool) {
		if before != nil {
			before()
			before = nil
		}
		if !mapped {
			return
		}
		*checks++
		if got := mf.Slice(memfile.Range{Start: old.off, End: old.off + 1})[0]; got != want {
			t.Errorf("the host still maps a page that was freed: it reads %#x, want %#x", got, want)
		}
	}
	return checks
}

// TestCOWBreakKeepsOldPageUntilRemapped is the fork_cow race: a thread
// breaks copy-on-write on a page shared with a child that exits at the same
// moment, while another thread reads the page through the old host mapping.
// The old page must stay allocated until the host maps the copy.
func TestCOWBreakKeepsOldPageUntilRemapped(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	w := mustMMap(t, m, anonOpts(pg))
	appAccess(m, e.mf, w, true, 0x5a)
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	checks := watchOldPage(t, m, e.mf, 0x5a, child.Release)
	if sig, _, _, _ := appAccess(m, e.mf, w, true, 0x77); sig != 0 {
		t.Fatalf("write to the copy-on-write page: signal %d", sig)
	}
	if *checks == 0 {
		t.Fatal("the copy was never mapped")
	}
	fas(m).beforeChange = nil
	if _, _, _, got := appAccess(m, e.mf, w, false, 0); got != 0x77 {
		t.Errorf("after the break the page reads %#x, want 0x77", got)
	}
}

// TestUnmapReleasesPagesAfterHost: munmap and MADV_DONTNEED take the pages
// out of the host before they are freed. MADV_DONTNEED removes only pages
// it cannot zero in place, those shared with a forked child; the child
// exits while the host mapping goes, so the page is freed by the removal.
func TestUnmapReleasesPagesAfterHost(t *testing.T) {
	for _, name := range []string{"munmap", "MADV_DONTNEED"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			m := e.mm
			w := mustMMap(t, m, anonOpts(pg))
			appAccess(m, e.mf, w, true, 0x5a)
			var before func()
			if name == "MADV_DONTNEED" {
				child, err := m.Fork()
				if err != nil {
					t.Fatal(err)
				}
				before = child.Release
			}
			checks := watchOldPage(t, m, e.mf, 0x5a, before)
			var err error
			if name == "munmap" {
				err = m.MUnmap(w, pg)
			} else {
				err = m.MAdvise(w, pg, unix.MADV_DONTNEED)
			}
			if err != nil {
				t.Fatal(err)
			}
			if *checks == 0 {
				t.Fatal("the host mapping was never removed")
			}
			if _, ok := fas(m).lookup(w); ok {
				t.Error("the page is still mapped on the host")
			}
		})
	}
}
