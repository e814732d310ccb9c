package mm

import (
	"bytes"
	"testing"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// TestPinForWrite: pinned ranges are the application's memory (a write
// through them is what the application reads), copy-on-write is broken
// first, the pages outlive an munmap while pinned, and a range that is
// not wholly writable pins nothing.
func TestPinForWrite(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(8*pg))
	var small [8]memfile.Range

	// Unaligned, spanning pages never touched.
	frs, ok := m.PinForWrite(a+100, 3*pg, small[:0])
	if !ok || len(frs) == 0 {
		t.Fatalf("pin: %v %v", frs, ok)
	}
	var total uint64
	for _, fr := range frs {
		b := m.Slice(fr)
		for i := range b {
			b[i] = byte(total + uint64(i))
		}
		total += uint64(len(b))
	}
	if total != 3*pg {
		t.Fatalf("pinned %d bytes", total)
	}
	m.Unpin(frs)
	got := make([]byte, 3*pg)
	if _, err := m.CopyIn(a+100, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("byte %d: %d", i, got[i])
		}
	}

	// After fork the parent's pages are copy-on-write: a pinned write
	// must not reach the child.
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	frs, ok = m.PinForWrite(a, pg, small[:0])
	if !ok {
		t.Fatal("pin after fork")
	}
	clear(m.Slice(frs[0]))
	m.Unpin(frs)
	c := make([]byte, 4)
	if _, err := child.CopyIn(a+100, c); err != nil || !bytes.Equal(c, []byte{0, 1, 2, 3}) {
		t.Errorf("child sees %v %v after the parent's pinned write", c, err)
	}

	// Pinned pages survive an munmap until unpinned.
	before := e.mf.Usage().Allocated
	frs, ok = m.PinForWrite(a+4*pg, pg, small[:0])
	if !ok {
		t.Fatal("pin")
	}
	if err := m.MUnmap(a+4*pg, pg); err != nil {
		t.Fatal(err)
	}
	if e.mf.Usage().Allocated < before {
		t.Error("a pinned page was freed by munmap")
	}
	m.Slice(frs[0])[0] = 1
	pinned := e.mf.Usage().Allocated
	m.Unpin(frs)
	if e.mf.Usage().Allocated >= pinned {
		t.Error("the page was not freed after unpin")
	}

	// Not wholly writable: a hole, a read-only page.
	if _, ok := m.PinForWrite(a+3*pg, 2*pg, small[:0]); ok {
		t.Error("pinned across a hole")
	}
	if err := m.MProtect(a+6*pg, pg, usermem.Read, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.PinForWrite(a+5*pg, 2*pg, small[:0]); ok {
		t.Error("pinned a read-only page")
	}
	// Too many ranges for out: nothing.
	if frs, ok := m.PinForWrite(a, 2*pg, small[:0:0]); ok || len(frs) != 0 {
		t.Errorf("pinned into no room: %v %v", frs, ok)
	}
	checkInvariants(t, m)
}

// TestPinDoesNotAllocate: the read path pins and unpins on every read.
func TestPinDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(4*pg))
	if _, err := m.CopyOut(a, make([]byte, 4*pg)); err != nil {
		t.Fatal(err)
	}
	var small [8]memfile.Range
	if n := testing.AllocsPerRun(100, func() {
		frs, ok := m.PinForWrite(a+10, 3*pg, small[:0])
		if !ok {
			t.Fatal("pin")
		}
		m.Unpin(frs)
	}); n != 0 {
		t.Errorf("%v allocations per pin", n)
	}
}
