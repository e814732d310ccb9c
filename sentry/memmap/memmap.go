// Package memmap defines what a filesystem provides so that its files can be
// mapped into application address spaces: a Mappable translates file offsets
// into ranges of the memory file.
package memmap

import (
	"errors"

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
