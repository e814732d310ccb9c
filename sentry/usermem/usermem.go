// Package usermem holds the small address and access-type vocabulary that the
// platform, the memory manager, the memory file and the filesystems share.
//
// It has no state and no dependencies, so that every layer can import it.
package usermem

// PageSize is the host and application page size on amd64.
const (
	PageShift = 12
	PageSize  = 1 << PageShift
	PageMask  = PageSize - 1
)

// PageRoundDown rounds a down to a page boundary.
func PageRoundDown(a uint64) uint64 { return a &^ PageMask }

// PageRoundUp rounds a up to a page boundary. ok is false if that overflows.
func PageRoundUp(a uint64) (r uint64, ok bool) {
	r = (a + PageMask) &^ PageMask
	return r, r >= a
}

// IsPageAligned reports whether a is a multiple of PageSize.
func IsPageAligned(a uint64) bool { return a&PageMask == 0 }

// AddrRange is the half-open range [Start, End) of application addresses.
type AddrRange struct {
	Start, End uint64
}

// Length returns End-Start.
func (r AddrRange) Length() uint64 { return r.End - r.Start }

// Contains reports whether a lies in r.
func (r AddrRange) Contains(a uint64) bool { return r.Start <= a && a < r.End }

// Overlaps reports whether r and o share an address.
func (r AddrRange) Overlaps(o AddrRange) bool { return r.Start < o.End && o.Start < r.End }

// Intersect returns the common part of r and o (empty if none).
func (r AddrRange) Intersect(o AddrRange) AddrRange {
	if r.Start < o.Start {
		r.Start = o.Start
	}
	if r.End > o.End {
		r.End = o.End
	}
	if r.End < r.Start {
		r.End = r.Start
	}
	return r
}

// AccessType says which kinds of access a mapping permits or a fault asked for.
type AccessType struct {
	Read    bool
	Write   bool
	Execute bool
}

// Common access types.
var (
	NoAccess  = AccessType{}
	Read      = AccessType{Read: true}
	Write     = AccessType{Write: true}
	ReadWrite = AccessType{Read: true, Write: true}
	AnyAccess = AccessType{Read: true, Write: true, Execute: true}
)

// Any reports whether at permits any access.
func (at AccessType) Any() bool { return at.Read || at.Write || at.Execute }

// SupersetOf reports whether at permits everything o permits.
func (at AccessType) SupersetOf(o AccessType) bool {
	return (at.Read || !o.Read) && (at.Write || !o.Write) && (at.Execute || !o.Execute)
}

// Intersect returns the accesses permitted by both at and o.
func (at AccessType) Intersect(o AccessType) AccessType {
	return AccessType{at.Read && o.Read, at.Write && o.Write, at.Execute && o.Execute}
}

// Prot returns the PROT_* bits for at.
func (at AccessType) Prot() int {
	p := 0
	if at.Read {
		p |= 1
	}
	if at.Write {
		p |= 2
	}
	if at.Execute {
		p |= 4
	}
	return p
}

// FromProt converts PROT_* bits to an AccessType, bit for bit: a mapping
// keeps what mmap or mprotect asked for (/proc/[pid]/maps shows it, and
// only mappings that asked for the same merge). What the hardware grants
// is Effective.
func FromProt(prot int) AccessType {
	return AccessType{Read: prot&1 != 0, Write: prot&2 != 0, Execute: prot&4 != 0}
}

// Effective returns the access x86 page tables grant a mapping that asked
// for at: a page that may be written or executed may also be read (Linux
// lets such a page fault in for a read, and copies from it).
func (at AccessType) Effective() AccessType {
	if at.Write || at.Execute {
		at.Read = true
	}
	return at
}

// String returns the /proc/[pid]/maps form, e.g. "rw-".
func (at AccessType) String() string {
	b := [3]byte{'-', '-', '-'}
	if at.Read {
		b[0] = 'r'
	}
	if at.Write {
		b[1] = 'w'
	}
	if at.Execute {
		b[2] = 'x'
	}
	return string(b[:])
}
