package mm

import (
	"sync"
	"testing"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

const (
	testMin = 0x10000
	testMax = 0x7ffffffff000
)

// fakePlatform creates fakeAddressSpaces.
type fakePlatform struct{}

func (fakePlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return &fakeAS{pages: make(map[uint64]fakeMapping)}, nil
}
func (fakePlatform) NewContext() platform.Context { return nil }
func (fakePlatform) MinUserAddress() uint64       { return testMin }
func (fakePlatform) MaxUserAddress() uint64       { return testMax }
func (fakePlatform) Close()                       {}

type fakeMapping struct {
	off   uint64
	perms usermem.AccessType
}

// fakeAS records MapFile/Unmap calls and what each page maps.
type fakeAS struct {
	mu       sync.Mutex
	pages    map[uint64]fakeMapping
	maps     int
	unmaps   int
	released bool
	// beforeChange, if set, runs at the start of each MapFile and Unmap
	// with the host's mapping of the first page about to change, as
	// another thread of the application could still reach it.
	beforeChange func(old fakeMapping, mapped bool)
}

func (as *fakeAS) notifyChange(addr uint64) {
	if as.beforeChange == nil {
		return
	}
	old, ok := as.lookup(addr)
	as.beforeChange(old, ok)
}

func (as *fakeAS) MapFile(addr uint64, fd int, off, length uint64, at usermem.AccessType) error {
	as.notifyChange(addr)
	as.mu.Lock()
	defer as.mu.Unlock()
	if !usermem.IsPageAligned(addr|off|length) || length == 0 || !at.Any() {
		panic("bad MapFile")
	}
	as.maps++
	for a := uint64(0); a < length; a += usermem.PageSize {
		as.pages[addr+a] = fakeMapping{off + a, at}
	}
	return nil
}

func (as *fakeAS) Unmap(addr, length uint64) error {
	as.notifyChange(addr)
	as.mu.Lock()
	defer as.mu.Unlock()
	as.unmaps++
	if length/usermem.PageSize > uint64(len(as.pages)) {
		// A range larger than what is mapped (a shrinking mremap of
		// a huge range): walk the mapped pages instead.
		for a := range as.pages {
			if a >= addr && a-addr < length {
				delete(as.pages, a)
			}
		}
		return nil
	}
	for a := uint64(0); a < length; a += usermem.PageSize {
		delete(as.pages, addr+a)
	}
	return nil
}

func (as *fakeAS) Release() { as.released = true }

func (as *fakeAS) lookup(addr uint64) (fakeMapping, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	m, ok := as.pages[usermem.PageRoundDown(addr)]
	return m, ok
}

func (as *fakeAS) mapCount() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.maps
}

// fakeFile is a Mappable whose data lives in one range of the memory file.
type fakeFile struct {
	mf   *memfile.MemoryFile
	fr   memfile.Range
	size uint64
	// maxChunk limits each Translate, to exercise multi-pma windows.
	maxChunk uint64
	mu       sync.Mutex
	holds    int
}

func newFakeFile(t *testing.T, mf *memfile.MemoryFile, data []byte) *fakeFile {
	t.Helper()
	l, _ := usermem.PageRoundUp(uint64(len(data)))
	if l == 0 {
		l = usermem.PageSize
	}
	fr, err := mf.Allocate(l)
	if err != nil {
		t.Fatal(err)
	}
	copy(mf.Slice(fr), data)
	return &fakeFile{mf: mf, fr: fr, size: uint64(len(data)), maxChunk: 4 * usermem.PageSize}
}

func (f *fakeFile) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	if off >= f.size {
		return memfile.Range{}, memmap.ErrBeyondEOF
	}
	n := min(maxLen, f.fr.Length()-off, f.maxChunk)
	r := memfile.Range{Start: f.fr.Start + off, End: f.fr.Start + off + n}
	f.mf.IncRef(r)
	return r, nil
}

func (f *fakeFile) hold(inc bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inc {
		f.holds++
	} else {
		f.holds--
	}
}

func (f *fakeFile) holdCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holds
}

func (f *fakeFile) MappingIdentity() (uint32, uint32, uint64) { return 8, 1, 1234 }

func (f *fakeFile) release() { f.mf.DecRef(f.fr) }

// env is one test's memory file and first address space.
type env struct {
	t  testing.TB
	mf *memfile.MemoryFile
	mm *MemoryManager
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, fakePlatform{})
}

// newEnvOn is newEnv with the platform p.
func newEnvOn(t testing.TB, p platform.Platform) *env {
	t.Helper()
	mf, err := memfile.New("mm-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	m, err := NewMemoryManager(p, mf)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, mf: mf, mm: m}
}

func fas(m *MemoryManager) *fakeAS {
	switch as := m.AddressSpace().(type) {
	case *fakeBatchAS:
		return as.fakeAS
	case *fakeProtectAS:
		return as.fakeAS
	}
	return m.AddressSpace().(*fakeAS)
}

// fakeBatchPlatform creates fakeBatchASes.
type fakeBatchPlatform struct{ fakePlatform }

func (fakeBatchPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return &fakeBatchAS{fakeAS: &fakeAS{pages: make(map[uint64]fakeMapping)}}, nil
}

// fakeBatchAS is a fakeAS that takes batches (platform.MapBatcher) and
// counts them; each entry also counts as a MapFile or Unmap.
type fakeBatchAS struct {
	*fakeAS
	batches, entries int
	// populated counts the pages mapped with Populate.
	populated int
}

func (as *fakeBatchAS) MapFiles(ms []platform.Mapping) error {
	if len(ms) > platform.MaxBatch {
		panic("batch too long")
	}
	as.mu.Lock()
	as.batches++
	as.entries += len(ms)
	for _, m := range ms {
		if m.Populate {
			as.populated += int(m.Length / usermem.PageSize)
		}
	}
	as.mu.Unlock()
	for _, m := range ms {
		var err error
		if m.Access.Any() {
			err = as.MapFile(m.Addr, m.FD, m.Off, m.Length, m.Access)
		} else {
			err = as.Unmap(m.Addr, m.Length)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appAccess simulates the application touching addr the way the ptrace
// platform reports it: a missing host mapping is SEGV_MAPERR with an
// unknown access, a permission problem is SEGV_ACCERR reported as Write.
// It returns the signal the application would get, the number of faults
// taken, and the byte read (or written: val is stored if write).
func appAccess(m *MemoryManager, mf *memfile.MemoryFile, addr uint64, write bool, val byte) (sig int32, code int32, faults int, got byte) {
	as := fas(m)
	for faults = 0; faults < 10; faults++ {
		pm, ok := as.lookup(addr)
		if ok && pm.perms.Read && (!write || pm.perms.Write) {
			b := mf.Slice(memfile.Range{Start: pm.off + addr&usermem.PageMask, End: pm.off + addr&usermem.PageMask + 1})
			if write {
				b[0] = val
			}
			return 0, 0, faults, b[0]
		}
		if !ok {
			sig, code = m.HandleFault(addr, usermem.NoAccess, segvMapErr)
		} else {
			sig, code = m.HandleFault(addr, usermem.Write, segvAccErr)
		}
		if sig != 0 {
			return sig, code, faults + 1, 0
		}
	}
	panic("fault loop")
}

// checkInvariants verifies the vma and pma bookkeeping and the
// AddressSpace invariant.
func checkInvariants(t *testing.T, m *MemoryManager) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	as := fas(m)
	var prevEnd uint64
	for i, v := range m.vmas {
		if v.start >= v.end || v.start < prevEnd || !usermem.IsPageAligned(v.start|v.end) {
			t.Fatalf("vma %d [%#x,%#x) bad (prev end %#x)", i, v.start, v.end, prevEnd)
		}
		if v.start < testMin || v.end > testMax {
			t.Fatalf("vma [%#x,%#x) outside user range", v.start, v.end)
		}
		prevEnd = v.end
		pe := v.start
		for _, p := range v.pmas {
			if p.start < pe || p.end <= p.start || p.end > v.end || p.fr.Length() != p.end-p.start {
				t.Fatalf("vma [%#x,%#x): bad pma %+v", v.start, v.end, p)
			}
			pe = p.end
			for a := p.start; a < p.end; a += usermem.PageSize {
				if pm, ok := as.lookup(a); ok {
					want := fakeMapping{p.fr.Start + (a - p.start), v.effective(&p)}
					if pm != want {
						t.Fatalf("page %#x: AS maps %+v, pma wants %+v", a, pm, want)
					}
				}
			}
		}
	}
	// No host mapping without a pma, but a parked range's, inaccessible
	// and over no pma.
	as.mu.Lock()
	defer as.mu.Unlock()
	for a, pm := range as.pages {
		if k := m.parkedIndexLocked(a); k >= 0 {
			r := m.parked[k]
			if want := (fakeMapping{r.fr.Start + (a - r.start), usermem.NoAccess}); pm != want {
				t.Fatalf("parked page %#x: AS maps %+v, want %+v", a, pm, want)
			}
			if v := m.findVMALocked(a); v != nil && v.findPMA(a) != nil {
				t.Fatalf("parked page %#x has a pma", a)
			}
			continue
		}
		v := m.findVMALocked(a)
		if v == nil || v.findPMA(a) == nil {
			t.Fatalf("AS maps %#x which has no pma", a)
		}
	}
}

// releaseAll releases m and then the files, and checks that nothing is
// left allocated in the memory file.
func releaseAll(t *testing.T, e *env, m *MemoryManager, files ...*fakeFile) {
	t.Helper()
	m.Release()
	for _, f := range files {
		f.release()
	}
	if u := e.mf.Usage().Allocated; u != 0 {
		t.Errorf("%d bytes leaked", u)
	}
}

// newBatchMM returns a MemoryManager on e's memory file whose address
// space takes batches, and that address space.
func newBatchMM(t *testing.T, e *env) (*MemoryManager, *fakeBatchAS) {
	t.Helper()
	m, err := NewMemoryManager(fakeBatchPlatform{}, e.mf)
	if err != nil {
		t.Fatal(err)
	}
	return m, m.AddressSpace().(*fakeBatchAS)
}
