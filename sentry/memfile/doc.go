// Package memfile owns the sandbox's memory file: one memfd that holds every
// byte of application memory (anonymous memory, tmpfs data, the page cache of
// gofer files). Address spaces are views of ranges of it, and the sentry reads
// and writes application memory through its own mapping of it.
package memfile

// Range is the half-open range [Start, End) of offsets in the memory file.
// Ranges that are allocated, reference-counted or mapped are page-aligned;
// MemoryFile.Slice also accepts byte-granular ranges.
type Range struct {
	Start, End uint64
}

// Length returns End-Start.
func (r Range) Length() uint64 { return r.End - r.Start }
