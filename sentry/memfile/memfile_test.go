package memfile

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

func newFile(t *testing.T) *MemoryFile {
	t.Helper()
	f, err := New("memfile-test")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestAllocateZeroedAndReused(t *testing.T) {
	f := newFile(t)
	fr, err := f.Allocate(4 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Slice(fr)
	if len(s) != 4*usermem.PageSize {
		t.Fatalf("slice length %d", len(s))
	}
	if !bytes.Equal(s, make([]byte, len(s))) {
		t.Fatal("fresh allocation not zeroed")
	}
	for i := range s {
		s[i] = 0xaa
	}
	if got := f.Usage().Allocated; got != 4*usermem.PageSize {
		t.Fatalf("Allocated = %d", got)
	}
	f.DecRef(fr)
	if got := f.Usage().Allocated; got != 0 {
		t.Fatalf("Allocated after free = %d", got)
	}
	// The freed pages kept their host memory (dirty), and all of them are
	// resident: the next allocation takes them, zeroed.
	if got := f.Usage().Dirty; got != 4*usermem.PageSize {
		t.Fatalf("Dirty after free = %d", got)
	}
	fr2, committed, err := f.AllocateCommitted(4 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if fr2 != fr || !committed {
		t.Errorf("freed resident range: got %v committed %v, want %v committed", fr2, committed, fr)
	}
	if s := f.Slice(fr2); !bytes.Equal(s, make([]byte, len(s))) {
		t.Fatal("second allocation not zeroed")
	}
	if got := f.Usage().Dirty; got != 0 {
		t.Fatalf("Dirty after reuse = %d", got)
	}
	fill(f, fr2, 0xbb)
	f.DecRef(fr2)
	fr3, err := f.AllocateUnzeroed(4 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if fr3 != fr {
		t.Errorf("freed range not reused: got %v, want %v", fr3, fr)
	}
}

func fill(f *MemoryFile, fr Range, b byte) {
	s := f.Slice(fr)
	for i := range s {
		s[i] = b
	}
}

// TestAllocateCommittedSparse: a freed range its owner touched only in
// part is not zeroed through the sentry's view, which would give its
// holes host memory: it is released, reads as zero, and is not reported
// committed.
func TestAllocateCommittedSparse(t *testing.T) {
	const page = usermem.PageSize
	f := newFile(t)
	fr, err := f.Allocate(64 * page)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 64; i += 8 {
		fill(f, Range{fr.Start + i*page, fr.Start + (i+1)*page}, 0xcc)
	}
	before, err := f.Committed()
	if err != nil {
		t.Fatal(err)
	}
	f.DecRef(fr)
	fr2, committed, err := f.AllocateCommitted(64 * page)
	if err != nil {
		t.Fatal(err)
	}
	if committed {
		t.Error("a sparsely touched range reported committed")
	}
	// Before reading it: a read of a hole through the view gives it a
	// page.
	after, _ := f.Committed()
	if after > before {
		t.Errorf("committed %d -> %d: the holes were given memory", before, after)
	}
	vec := make([]byte, 64)
	if err := f.Resident(fr2, vec); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vec, make([]byte, 64)) {
		t.Errorf("resident pages after reuse: %v", vec)
	}
	if s := f.Slice(fr2); !bytes.Equal(s, make([]byte, len(s))) {
		t.Fatal("reused sparse range not zeroed")
	}
}

// TestDirtyPages checks the freed pages kept with their host memory: a
// one-page Allocate reuses one zeroed, frees past the cap are released
// (they read as zero and are no longer committed), and a limit lowers the
// cap.
func TestDirtyPages(t *testing.T) {
	const page = usermem.PageSize
	f := newFile(t)
	fill := func(fr Range) {
		s := f.Slice(fr)
		for i := range s {
			s[i] = 0x5a
		}
	}
	fr, err := f.Allocate(page)
	if err != nil {
		t.Fatal(err)
	}
	fill(fr)
	f.DecRef(fr)
	fr2, err := f.Allocate(page)
	if err != nil {
		t.Fatal(err)
	}
	if fr2 != fr {
		t.Errorf("one-page Allocate did not reuse the dirty page: got %v, want %v", fr2, fr)
	}
	if s := f.Slice(fr2); !bytes.Equal(s, make([]byte, page)) {
		t.Fatal("reused dirty page not zeroed")
	}
	f.DecRef(fr2)

	// Past the cap, frees are released.
	big, err := f.Allocate(dirtyMax + 4*page)
	if err != nil {
		t.Fatal(err)
	}
	fill(big)
	committed, _ := f.Committed()
	f.DecRef(big)
	u := f.Usage()
	if u.Dirty > dirtyMax {
		t.Fatalf("Dirty = %d, more than the cap %d", u.Dirty, dirtyMax)
	}
	after, _ := f.Committed()
	if committed-after < 4*page {
		t.Errorf("committed %d -> %d after freeing past the dirty cap: nothing released", committed, after)
	}
	for _, fr := range []Range{{big.Start, big.Start + page}, {big.End - page, big.End}} {
		if s := f.Slice(fr); !bytes.Equal(s, make([]byte, page)) {
			t.Fatalf("page %v, released, not zero", fr)
		}
	}

	// A limit lowers the cap and releases what is over it.
	f.SetLimit(64 * page)
	if got, want := f.Usage().Dirty, uint64(64*page/dirtyLimitShare); got > want {
		t.Fatalf("Dirty = %d under a limit of 64 pages, want at most %d", got, want)
	}
	f.SetLimit(0)
}

func TestRefCounting(t *testing.T) {
	f := newFile(t)
	fr, _ := f.Allocate(2 * usermem.PageSize)
	if !f.IsExclusive(fr) {
		t.Fatal("new range not exclusive")
	}
	f.IncRef(fr)
	if f.IsExclusive(fr) {
		t.Fatal("range with two refs reported exclusive")
	}
	f.Slice(fr)[0] = 7
	f.DecRef(fr)
	if f.Slice(fr)[0] != 7 {
		t.Fatal("data lost while a reference remained")
	}
	if !f.IsExclusive(fr) {
		t.Fatal("range not exclusive after DecRef")
	}
	// Free only the second page.
	second := Range{fr.Start + usermem.PageSize, fr.End}
	f.IncRef(Range{fr.Start, fr.Start + usermem.PageSize})
	f.DecRef(fr)
	if got := f.Usage().Allocated; got != usermem.PageSize {
		t.Fatalf("Allocated = %d, want one page", got)
	}
	if f.Slice(fr)[0] != 7 {
		t.Fatal("first page lost")
	}
	r, _ := f.Allocate(usermem.PageSize)
	if r != second {
		t.Errorf("partial free not reused: %v want %v", r, second)
	}
}

func TestDecRefOfFreePagePanics(t *testing.T) {
	f := newFile(t)
	fr, _ := f.Allocate(usermem.PageSize)
	f.DecRef(fr)
	defer func() {
		if recover() == nil {
			t.Error("double DecRef did not panic")
		}
	}()
	f.DecRef(fr)
}

func TestAllocateErrors(t *testing.T) {
	f := newFile(t)
	for _, l := range []uint64{0, 1, usermem.PageSize + 1} {
		if _, err := f.Allocate(l); err == nil {
			t.Errorf("Allocate(%d) succeeded", l)
		}
	}
	if _, err := f.Allocate(reserveSize + usermem.PageSize); err == nil {
		t.Error("Allocate beyond reservation succeeded")
	}
	if f.Slice(Range{reserveSize, reserveSize + 1}) != nil {
		t.Error("Slice beyond reservation not nil")
	}
}

func TestLargeAllocationsContiguousAndGrow(t *testing.T) {
	f := newFile(t)
	var rs []Range
	for i := 0; i < 100; i++ {
		r, err := f.Allocate(2 << 20)
		if err != nil {
			t.Fatal(err)
		}
		f.Slice(r)[r.Length()-1] = byte(i)
		rs = append(rs, r)
	}
	if u := f.Usage(); u.Allocated != 200<<20 || u.FileSize < 200<<20 {
		t.Fatalf("usage %+v", u)
	}
	for i, r := range rs {
		if f.Slice(r)[r.Length()-1] != byte(i) {
			t.Fatalf("range %d corrupted", i)
		}
		f.DecRef(r)
	}
	if len(f.free) != 1 {
		t.Errorf("free list not coalesced: %v", f.free)
	}
	c, err := f.Committed()
	if err != nil {
		t.Fatal(err)
	}
	if c > 1<<20 {
		t.Errorf("host memory not released: %d bytes committed", c)
	}
}

func TestDecommit(t *testing.T) {
	f := newFile(t)
	fr, _ := f.Allocate(usermem.PageSize)
	f.Slice(fr)[10] = 1
	if err := f.Decommit(fr); err != nil {
		t.Fatal(err)
	}
	if f.Slice(fr)[10] != 0 {
		t.Error("decommitted page not zero")
	}
	if f.Usage().Allocated != usermem.PageSize {
		t.Error("Decommit changed accounting")
	}
	if err := f.Decommit(Range{1, 2}); err == nil {
		t.Error("unaligned Decommit succeeded")
	}
}

// TestResidentCommit: Resident tells pages with host memory from holes,
// Commit gives pages memory, and Decommit takes it back.
func TestResidentCommit(t *testing.T) {
	f := newFile(t)
	fr, err := f.Allocate(4 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Decommit(fr); err != nil {
		t.Fatal(err)
	}
	resident := func() []byte {
		t.Helper()
		vec := make([]byte, 4)
		if err := f.Resident(fr, vec); err != nil {
			t.Fatal(err)
		}
		return vec
	}
	if v := resident(); !bytes.Equal(v, []byte{0, 0, 0, 0}) {
		t.Errorf("decommitted: %v", v)
	}
	f.Slice(fr)[usermem.PageSize] = 7
	if err := f.Commit(Range{fr.Start + 2*usermem.PageSize, fr.End}); err != nil {
		t.Fatal(err)
	}
	if v := resident(); !bytes.Equal(v, []byte{0, 1, 1, 1}) {
		t.Errorf("after a write and a Commit: %v, want [0 1 1 1]", v)
	}
	if f.Slice(fr)[usermem.PageSize] != 7 || f.Slice(fr)[3*usermem.PageSize] != 0 {
		t.Error("Commit changed contents")
	}
	if err := f.Decommit(Range{fr.Start + usermem.PageSize, fr.Start + 2*usermem.PageSize}); err != nil {
		t.Fatal(err)
	}
	if v := resident(); !bytes.Equal(v, []byte{0, 0, 1, 1}) {
		t.Errorf("after Decommit of the written page: %v, want [0 0 1 1]", v)
	}
	if err := f.Resident(fr, make([]byte, 3)); err == nil {
		t.Error("Resident with a short vector succeeded")
	}
	if err := f.Commit(Range{1, 2}); err == nil {
		t.Error("unaligned Commit succeeded")
	}
}

func TestConcurrent(t *testing.T) {
	f := newFile(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			var held []Range
			for i := 0; i < 300; i++ {
				if len(held) > 0 && rnd.Intn(3) == 0 {
					j := rnd.Intn(len(held))
					r := held[j]
					s := f.Slice(r)
					if s[0] != byte(seed) || s[len(s)-1] != byte(seed) {
						t.Errorf("range %v corrupted", r)
					}
					f.DecRef(r)
					held = append(held[:j], held[j+1:]...)
					continue
				}
				r, err := f.Allocate(uint64(1+rnd.Intn(64)) * usermem.PageSize)
				if err != nil {
					t.Error(err)
					return
				}
				s := f.Slice(r)
				if s[0] != 0 || s[len(s)-1] != 0 {
					t.Errorf("allocation %v not zeroed", r)
				}
				s[0], s[len(s)-1] = byte(seed), byte(seed)
				held = append(held, r)
			}
			for _, r := range held {
				f.DecRef(r)
			}
		}(int64(g + 1))
	}
	wg.Wait()
	if a := f.Usage().Allocated; a != 0 {
		t.Errorf("leaked %d bytes", a)
	}
}

func TestLimit(t *testing.T) {
	f := newFile(t)
	f.SetLimit(4 * usermem.PageSize)
	a, err := f.Allocate(3 * usermem.PageSize)
	if err != nil {
		t.Fatalf("Allocate under the limit: %v", err)
	}
	select {
	case <-f.OOM():
		t.Fatal("OOM signalled under the limit")
	default:
	}
	if _, err := f.Allocate(2 * usermem.PageSize); err != unix.ENOMEM {
		t.Fatalf("Allocate past the limit: %v, want ENOMEM", err)
	}
	select {
	case <-f.OOM():
	default:
		t.Fatal("no OOM signal after a refused allocation")
	}
	b, err := f.Allocate(usermem.PageSize)
	if err != nil {
		t.Fatalf("Allocate up to the limit: %v", err)
	}
	f.DecRef(a)
	if _, err := f.Allocate(3 * usermem.PageSize); err != nil {
		t.Fatalf("Allocate after freeing: %v", err)
	}
	f.SetLimit(usermem.PageSize)
	select {
	case <-f.OOM():
	default:
		t.Fatal("no OOM signal after lowering the limit below the allocation")
	}
	f.SetLimit(0)
	if _, err := f.Allocate(16 * usermem.PageSize); err != nil {
		t.Fatalf("Allocate without a limit: %v", err)
	}
	f.DecRef(b)
}

// TestKept: bytes an owner keeps after its program freed them (parked
// ranges) are bounded by the budget of freed pages, a sixteenth of a
// limit, and count neither against the limit nor as in use.
func TestKept(t *testing.T) {
	f := newFile(t)
	const limit = 64 * usermem.PageSize // budget: 4 pages
	f.SetLimit(limit)
	a, err := f.Allocate(4 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if !f.ReserveKept(4 * usermem.PageSize) {
		t.Fatal("ReserveKept within the budget failed")
	}
	if f.ReserveKept(usermem.PageSize) {
		t.Fatal("ReserveKept past the budget succeeded")
	}
	if u := f.Usage(); u.Kept != 4*usermem.PageSize || u.InUse() != 0 {
		t.Fatalf("usage %+v, in use %d; want 4 pages kept, none in use", u, u.InUse())
	}
	b, err := f.Allocate(limit)
	if err != nil {
		t.Fatalf("Allocate of the whole limit beside kept pages: %v", err)
	}
	f.ReleaseKept(4 * usermem.PageSize)
	if _, err := f.Allocate(usermem.PageSize); err != unix.ENOMEM {
		t.Fatalf("Allocate past the limit once the pages are in use again: %v, want ENOMEM", err)
	}
	f.DecRef(a)
	f.DecRef(b)
	if u := f.Usage(); u.Allocated != 0 || u.Kept != 0 {
		t.Fatalf("usage %+v after freeing all", u)
	}
}

// TestReadFrom copies a host file into ranges of the memory file: whole
// runs, a run cut short by the end of the file, from several goroutines at
// once (they share the memfd's position), and from a descriptor that is
// not a file.
func TestReadFrom(t *testing.T) {
	f := newFile(t)
	const size = 5*usermem.PageSize + 100
	src := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(src)
	path := t.TempDir() + "/src"
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	// A full run from the second page on.
	fr, err := f.AllocateUnzeroed(3 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.ReadFrom(fr, fd, usermem.PageSize); err != nil || n != 3*usermem.PageSize {
		t.Fatalf("ReadFrom of a full run = %d, %v; want %d, nil", n, err, 3*usermem.PageSize)
	}
	if !bytes.Equal(f.Slice(fr), src[usermem.PageSize:4*usermem.PageSize]) {
		t.Fatal("the run differs from the file")
	}

	// The last page and a half: short at the end of the file, and the
	// rest of the range untouched.
	tail, err := f.Allocate(2 * usermem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.ReadFrom(tail, fd, 4*usermem.PageSize)
	if err != nil || n != size-4*usermem.PageSize {
		t.Fatalf("ReadFrom at the end = %d, %v; want %d, nil", n, err, size-4*usermem.PageSize)
	}
	if got := f.Slice(tail); !bytes.Equal(got[:n], src[4*usermem.PageSize:]) || !bytes.Equal(got[n:], make([]byte, len(got)-n)) {
		t.Fatal("the tail differs from the file, or the range past it changed")
	}

	// Concurrent copies of different pages to different ranges.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		r, err := f.AllocateUnzeroed(usermem.PageSize)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int, r Range) {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				if n, err := f.ReadFrom(r, fd, int64(i*usermem.PageSize)); err != nil || n != usermem.PageSize {
					errs <- fmt.Errorf("goroutine %d: ReadFrom = %d, %v", i, n, err)
					return
				}
				if !bytes.Equal(f.Slice(r), src[i*usermem.PageSize:(i+1)*usermem.PageSize]) {
					errs <- fmt.Errorf("goroutine %d: page %d landed elsewhere", i, i)
					return
				}
			}
		}(i, r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// A pipe cannot be read at an offset: an error, nothing copied.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if n, err := f.ReadFrom(fr, p[0], 0); err == nil || n != 0 {
		t.Fatalf("ReadFrom of a pipe = %d, %v; want 0 and an error", n, err)
	}
	if _, err := f.ReadFrom(Range{Start: 1, End: usermem.PageSize}, fd, 0); err != unix.EINVAL {
		t.Fatalf("ReadFrom into an unaligned range: %v, want EINVAL", err)
	}
}
