package fsutil

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// fakeMF hands out pages of an address range it never backs, counting the
// ones outstanding.
type fakeMF struct {
	next, live int64
	decRefs    int // DecRef calls
	data       [usermem.PageSize]byte
}

func (m *fakeMF) Allocate(length uint64) (memfile.Range, error) {
	m.next += int64(length)
	m.live += int64(length / usermem.PageSize)
	return memfile.Range{Start: uint64(m.next) - length, End: uint64(m.next)}, nil
}
func (m *fakeMF) AllocateUnzeroed(length uint64) (memfile.Range, error) { return m.Allocate(length) }
func (m *fakeMF) IncRef(memfile.Range)                                  {}
func (m *fakeMF) DecRef(fr memfile.Range) {
	m.decRefs++
	m.live -= int64(fr.Length() / usermem.PageSize)
}
func (m *fakeMF) Slice(memfile.Range) []byte { return m.data[:] }

// limitAcct is a size= limit that records how it was asked.
type limitAcct struct {
	max, used int64
	charges   []int64
}

func (a *limitAcct) Charge(n int64) bool {
	a.charges = append(a.charges, n)
	if a.used+n > a.max {
		return false
	}
	a.used += n
	return true
}
func (a *limitAcct) Uncharge(n int64) { a.used -= n }

// TestFallocateChargesUpFront checks that Fallocate asks the accounter once
// for the pages the range lacks, so that a range past the limit fails with
// ENOSPC before a single page is allocated (it used to allocate page by
// page up to the limit: seconds under the cache's lock for a large one).
func TestFallocateChargesUpFront(t *testing.T) {
	mf := &fakeMF{}
	acct := &limitAcct{max: 16}
	c := NewPageCache(mf, nil)
	c.SetAccounter(acct)
	if _, err := c.WriteAt([]byte("x"), 2*usermem.PageSize); err != nil {
		t.Fatal(err)
	}
	acct.charges = nil

	// Pages 0-3: page 2 is there, 3 are charged at once.
	if err := c.Fallocate(0, 4*usermem.PageSize, false); err != nil {
		t.Fatalf("Fallocate within the limit: %v", err)
	}
	if len(acct.charges) != 1 || acct.charges[0] != 3 {
		t.Errorf("charges %v, want [3]", acct.charges)
	}
	if acct.used != 4 || mf.live != 4 || c.Size() != 4*usermem.PageSize {
		t.Errorf("used %d, live pages %d, size %d; want 4, 4, %d", acct.used, mf.live, c.Size(), 4*usermem.PageSize)
	}

	// 2^47 bytes at 2^50: refused whole, nothing allocated, size kept.
	acct.charges = nil
	err := c.Fallocate(1<<50, 1<<47, false)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Fallocate past the limit: %v, want ENOSPC", err)
	}
	if len(acct.charges) != 1 || acct.charges[0] != 1<<47/usermem.PageSize {
		t.Errorf("charges %v, want one of %d", acct.charges, 1<<47/usermem.PageSize)
	}
	if acct.used != 4 || mf.live != 4 || c.Size() != 4*usermem.PageSize {
		t.Errorf("after the refusal: used %d, live pages %d, size %d; want 4, 4, %d", acct.used, mf.live, c.Size(), 4*usermem.PageSize)
	}

	// Up to the limit exactly, over pages partly present.
	if err := c.Fallocate(0, 16*usermem.PageSize, true); err != nil {
		t.Fatalf("Fallocate to the limit: %v", err)
	}
	if acct.used != 16 || mf.live != 16 || c.Size() != 4*usermem.PageSize {
		t.Errorf("at the limit: used %d, live pages %d, size %d (KEEP_SIZE); want 16, 16, %d", acct.used, mf.live, c.Size(), 4*usermem.PageSize)
	}
}

// TestDropInRuns checks that truncating, punching and releasing drop pages
// in runs of neighbours in the memory file, and credit the accounter for
// each page: page by page, a 4 GiB file took 40 s to truncate.
func TestDropInRuns(t *testing.T) {
	mf := &fakeMF{}
	acct := &limitAcct{max: 1 << 20}
	c := NewPageCache(mf, nil)
	c.SetAccounter(acct)
	if err := c.Fallocate(0, 10000*usermem.PageSize, false); err != nil {
		t.Fatal(err)
	}
	c.Truncate(5000*usermem.PageSize + 10)
	if mf.decRefs != 1 || mf.live != 5001 || acct.used != 5001 {
		t.Errorf("truncate: %d DecRefs, %d live pages, %d charged; want 1, 5001, 5001", mf.decRefs, mf.live, acct.used)
	}
	mf.decRefs = 0
	c.PunchHole(100*usermem.PageSize, 1000*usermem.PageSize)
	if mf.decRefs != 1 || mf.live != 4001 || acct.used != 4001 {
		t.Errorf("punch: %d DecRefs, %d live pages, %d charged; want 1, 4001, 4001", mf.decRefs, mf.live, acct.used)
	}
	mf.decRefs = 0
	c.Release()
	if mf.decRefs != 2 || mf.live != 0 || acct.used != 0 {
		t.Errorf("release: %d DecRefs, %d live pages, %d charged; want 2, 0, 0", mf.decRefs, mf.live, acct.used)
	}
}
