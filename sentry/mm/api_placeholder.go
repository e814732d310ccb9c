package mm

// PLACEHOLDER: the mm owner replaces this file with the implementation. The
// exported API below is the contract that the loader, the kernel and the
// syscall handlers compile against; keep these names and signatures.
// All errors returned across this API are unix.Errno values.

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// MemoryManager is one application address space.
type MemoryManager struct{}

// NewMemoryManager returns an empty address space.
func NewMemoryManager(p platform.Platform, mf *memfile.MemoryFile) (*MemoryManager, error) {
	return nil, unix.ENOSYS
}

// MMapOpts describes one mmap request.
type MMapOpts struct {
	Length    uint64 // bytes; rounded up to pages
	Addr      uint64 // hint, or the address when Fixed
	Fixed     bool   // MAP_FIXED or MAP_FIXED_NOREPLACE
	Unmap     bool   // with Fixed: replace existing mappings (MAP_FIXED); false gives EEXIST on overlap
	Map32Bit  bool
	GrowsDown bool // MAP_GROWSDOWN
	Private   bool // MAP_PRIVATE (else MAP_SHARED)
	Precommit bool // MAP_POPULATE or loader: fault everything in now
	Perms     usermem.AccessType
	MaxPerms  usermem.AccessType // mprotect may not exceed this
	Mappable  memmap.Mappable    // nil for anonymous memory
	Offset    uint64             // file offset, page-aligned
	Name      string             // for /proc/[pid]/maps: path, "[stack]", "[vdso]", "[vvar]"
	// Hold, if not nil, is called with true when a vma starts referring to
	// the mapped file and with false when it stops (to keep the file open).
	Hold func(inc bool)
}

// MMap creates a mapping and returns its address.
func (mm *MemoryManager) MMap(opts MMapOpts) (uint64, error) { return 0, unix.ENOSYS }

// MUnmap implements munmap(2).
func (mm *MemoryManager) MUnmap(addr, length uint64) error { return unix.ENOSYS }

// MProtect implements mprotect(2); growsDown/growsUp are PROT_GROWSDOWN/UP.
func (mm *MemoryManager) MProtect(addr, length uint64, at usermem.AccessType, growsDown bool) error {
	return unix.ENOSYS
}

// MRemap implements mremap(2) with MREMAP_MAYMOVE/FIXED/DONTUNMAP flags.
func (mm *MemoryManager) MRemap(oldAddr, oldSize, newSize uint64, flags int, newAddr uint64) (uint64, error) {
	return 0, unix.ENOSYS
}

// SetBrkStart sets the initial program break (after the loader placed the
// data segment). brk(2) can then move it up to RLIMIT_DATA.
func (mm *MemoryManager) SetBrkStart(addr uint64) {}

// Brk implements brk(2): it returns the new break, or the old one on failure.
func (mm *MemoryManager) Brk(addr uint64) uint64 { return 0 }

// MAdvise implements madvise(2).
func (mm *MemoryManager) MAdvise(addr, length uint64, advice int) error { return unix.ENOSYS }

// MinCore returns mincore(2)'s vector for [addr, addr+length).
func (mm *MemoryManager) MinCore(addr, length uint64) ([]byte, error) { return nil, unix.ENOSYS }

// MSync implements msync(2).
func (mm *MemoryManager) MSync(addr, length uint64, flags int) error { return unix.ENOSYS }

// HandleFault handles an application fault reported by the platform.
// It returns sig == 0 if the access should be retried, or the signal and
// si_code to deliver (SIGSEGV with SEGV_MAPERR/SEGV_ACCERR, SIGBUS with
// BUS_ADRERR) for an access the application was not allowed to make.
func (mm *MemoryManager) HandleFault(addr uint64, at usermem.AccessType, hostCode int32) (sig, code int32) {
	return int32(unix.SIGSEGV), 1
}

// CopyIn copies application memory at addr into dst. It returns the bytes
// copied and EFAULT if it stopped at an address that is unmapped or not
// readable. It faults pages in as needed.
func (mm *MemoryManager) CopyIn(addr uint64, dst []byte) (int, error) { return 0, unix.EFAULT }

// CopyOut copies src to application memory at addr, which must be
// writable (EFAULT otherwise, after copying what it could).
func (mm *MemoryManager) CopyOut(addr uint64, src []byte) (int, error) { return 0, unix.EFAULT }

// ZeroOut writes n zero bytes at addr.
func (mm *MemoryManager) ZeroOut(addr, n uint64) (int, error) { return 0, unix.EFAULT }

// CopyInString reads a NUL-terminated string of at most maxLen bytes
// (excluding the NUL); ENAMETOOLONG if there is no NUL within maxLen.
func (mm *MemoryManager) CopyInString(addr uint64, maxLen int) (string, error) {
	return "", unix.EFAULT
}

// AddressSpace returns the platform address space, for Context.Switch.
func (mm *MemoryManager) AddressSpace() platform.AddressSpace { return nil }

// SetAuxv/SetArgvEnv record what /proc/[pid]/{auxv,cmdline,environ} show.
func (mm *MemoryManager) SetArgvEnv(argvStart, argvEnd, envStart, envEnd uint64) {}

// SetAuxv records the auxiliary vector the loader built.
func (mm *MemoryManager) SetAuxv(auxv []uint64) {}

// Release drops the caller's reference; the last one unmaps everything
// and releases the address space.
func (mm *MemoryManager) Release() {}
