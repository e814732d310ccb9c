package memfile

// PLACEHOLDER: the memfile owner replaces this file with the implementation.
// The exported API below is the contract other packages compile against.

import "golang.org/x/sys/unix"

// MemoryFile is the sandbox's memfd-backed memory file.
type MemoryFile struct{ fd int }

// New creates the memory file.
func New(name string) (*MemoryFile, error) { return nil, unix.ENOSYS }

// FD returns the host descriptor of the memfd, for AddressSpace.MapFile.
func (f *MemoryFile) FD() int { return f.fd }

// Allocate returns a zeroed, page-aligned range of length bytes (a multiple
// of the page size) with a reference count of one on each page.
func (f *MemoryFile) Allocate(length uint64) (Range, error) { return Range{}, unix.ENOMEM }

// IncRef takes a reference on every page of fr.
func (f *MemoryFile) IncRef(fr Range) {}

// DecRef drops a reference on every page of fr; pages reaching zero are freed.
func (f *MemoryFile) DecRef(fr Range) {}

// Slice returns the sentry's own view of fr. The caller must hold a
// reference on fr for as long as it uses the slice.
func (f *MemoryFile) Slice(fr Range) []byte { return nil }

// Decommit releases the host memory behind fr (it reads as zero afterwards)
// without changing reference counts. Used for MADV_DONTNEED/FREE.
func (f *MemoryFile) Decommit(fr Range) error { return nil }

// Close releases the memory file.
func (f *MemoryFile) Close() error { return nil }
