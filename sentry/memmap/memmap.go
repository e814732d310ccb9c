// Package memmap defines what a filesystem provides so that its files can be
// mapped into application address spaces: a Mappable translates file offsets
// into ranges of the memory file.
package memmap

import (
	"errors"
	"sync"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// ErrBeyondEOF is returned by Translate for a page wholly past the end of the
// file. The memory manager turns it into SIGBUS for the faulting task.
var ErrBeyondEOF = errors.New("memmap: offset beyond end of file")

// Mappable is a file whose contents can be mapped.
//
// Implementations must be safe for concurrent use, and comparable with ==
// (a pointer, or a struct of one): the memory manager tells the vmas of one
// file apart from others by comparing their Mappables.
type Mappable interface {
	// Translate returns the memory-file range that holds the file's data
	// starting at file offset off (page-aligned): the result covers
	// [off, off+fr.Length()) of the file, with 0 < fr.Length() <= maxLen,
	// page-aligned. Bytes past end of file within the last page read as
	// zero. at says what the mapping needs (a shared writable mapping
	// passes Write, so that the file can note that its page is dirty).
	//
	// Translate takes one reference on every page of fr for the caller,
	// who releases it with MemoryFile.DecRef when it unmaps.
	Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error)
}

// Syncer is implemented by a Mappable whose pages are a copy of a file
// kept elsewhere (a gofer file's page cache): msync(2) calls Sync, after
// releasing the memory manager's lock, for each Syncer with a shared
// mapping in its range, so that the stores reach that file.
type Syncer interface {
	Sync() error
}

// MappingSpace is an address space that maps files. A file whose pages can
// vanish under a mapping (truncation, a punched hole) tells the spaces
// that map it, through its Mappings, so that they translate again.
type MappingSpace interface {
	// Invalidate drops the translations of m's file offsets [start, end)
	// (page-aligned; end may be ^uint64(0)) from the space's shared
	// mappings of m, and, if evenCopies, from its private ones too, the
	// copies made of the file's pages included (a truncation: the next
	// access past the end is SIGBUS, as on Linux).
	// The caller must not hold a lock the space may take while it holds
	// its own (its memory manager's lock is taken first, then the
	// Mappable's while it translates).
	Invalidate(m Mappable, start, end uint64, evenCopies bool)
}

// Tracked is implemented by Mappables whose pages can vanish under a
// mapping: the memory manager adds itself to their Mappings for as long
// as one of its mappings refers to them.
type Tracked interface {
	Mappings() *Mappings
}

// Mappings is the set of MappingSpaces that map one file, each with the
// count of its mappings of it. The zero value is empty; it is safe for
// concurrent use, and its lock is taken last (a memory manager adds itself
// with its own lock held).
type Mappings struct {
	mu     sync.Mutex
	spaces map[MappingSpace]int
}

// Add counts one more mapping of the file in s.
func (ms *Mappings) Add(s MappingSpace) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.spaces == nil {
		ms.spaces = make(map[MappingSpace]int)
	}
	ms.spaces[s]++
}

// Remove counts one mapping of the file in s less.
func (ms *Mappings) Remove(s MappingSpace) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.spaces[s]--; ms.spaces[s] <= 0 {
		delete(ms.spaces, s)
	}
}

// Truncated tells every space that maps m that the file now ends at size:
// the translations of the pages past it go, private copies included.
// The caller must not hold the locks MappingSpace.Invalidate forbids.
func (ms *Mappings) Truncated(m Mappable, size uint64) {
	if from, ok := usermem.PageRoundUp(size); ok {
		ms.Invalidate(m, from, ^uint64(0), true)
	}
}

// Invalidate calls Invalidate of every space that maps m. The caller must
// not hold the locks MappingSpace.Invalidate forbids.
func (ms *Mappings) Invalidate(m Mappable, start, end uint64, evenCopies bool) {
	ms.mu.Lock()
	if len(ms.spaces) == 0 {
		ms.mu.Unlock()
		return
	}
	spaces := make([]MappingSpace, 0, len(ms.spaces))
	for s := range ms.spaces {
		spaces = append(spaces, s)
	}
	ms.mu.Unlock()
	for _, s := range spaces {
		s.Invalidate(m, start, end, evenCopies)
	}
}
