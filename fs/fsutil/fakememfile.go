package fsutil

import (
	"sync"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// FakeMemoryFile is a MemoryFile in Go memory with per-page reference
// counts, for tests of filesystems without a real memfd.
type FakeMemoryFile struct {
	mu    sync.Mutex
	next  uint64
	pages map[uint64][]byte // page offset -> data
	refs  map[uint64]int
}

// NewFakeMemoryFile returns an empty fake.
func NewFakeMemoryFile() *FakeMemoryFile {
	return &FakeMemoryFile{pages: make(map[uint64][]byte), refs: make(map[uint64]int)}
}

// Allocate implements MemoryFile.Allocate.
func (f *FakeMemoryFile) Allocate(length uint64) (memfile.Range, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fr := memfile.Range{Start: f.next, End: f.next + length}
	// One buffer per allocation, each page a view of it up to its end:
	// a Slice of pages allocated together is contiguous, as in the real
	// memory file.
	buf := make([]byte, length)
	for off := fr.Start; off < fr.End; off += usermem.PageSize {
		f.pages[off] = buf[off-fr.Start:]
		f.refs[off] = 1
	}
	f.next = fr.End
	return fr, nil
}

// AllocateUnzeroed implements MemoryFile.AllocateUnzeroed. The pages hold
// 0xa5 bytes, so that a test catches a caller that does not overwrite them.
func (f *FakeMemoryFile) AllocateUnzeroed(length uint64) (memfile.Range, error) {
	fr, err := f.Allocate(length)
	if err == nil {
		f.mu.Lock()
		for off := fr.Start; off < fr.End; off += usermem.PageSize {
			p := f.pages[off][:usermem.PageSize]
			for i := range p {
				p[i] = 0xa5
			}
		}
		f.mu.Unlock()
	}
	return fr, err
}

// IncRef implements MemoryFile.IncRef.
func (f *FakeMemoryFile) IncRef(fr memfile.Range) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for off := fr.Start; off < fr.End; off += usermem.PageSize {
		if f.refs[off] <= 0 {
			panic("fake memfile: IncRef of a free page")
		}
		f.refs[off]++
	}
}

// DecRef implements MemoryFile.DecRef.
func (f *FakeMemoryFile) DecRef(fr memfile.Range) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for off := fr.Start; off < fr.End; off += usermem.PageSize {
		f.refs[off]--
		switch {
		case f.refs[off] == 0:
			delete(f.refs, off)
			delete(f.pages, off)
		case f.refs[off] < 0:
			panic("fake memfile: DecRef of a free page")
		}
	}
}

// Slice implements MemoryFile.Slice for a range of pages allocated
// together (or within one page).
func (f *FakeMemoryFile) Slice(fr memfile.Range) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pages[usermem.PageRoundDown(fr.Start)]
	if p == nil {
		panic("fake memfile: Slice of a free page")
	}
	in := fr.Start % usermem.PageSize
	return p[in : in+fr.Length()]
}

// Allocated returns the number of live pages.
func (f *FakeMemoryFile) Allocated() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pages)
}
