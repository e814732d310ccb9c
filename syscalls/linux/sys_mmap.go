package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/mm"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

func registerMM(t *kernel.SyscallTable) {
	t.Register(unix.SYS_MMAP, mmap)
	t.Register(unix.SYS_MUNMAP, munmap)
	t.Register(unix.SYS_MPROTECT, mprotect)
	t.Register(unix.SYS_BRK, brk)
	t.Register(unix.SYS_MREMAP, mremap)
	t.Register(unix.SYS_MADVISE, madvise)
	t.Register(unix.SYS_MINCORE, mincore)
	t.Register(unix.SYS_MSYNC, msync)
	t.Register(unix.SYS_MLOCK, mlock)
	t.Register(unix.SYS_MUNLOCK, mlock)
	t.Register(unix.SYS_MLOCKALL, mlockall)
	t.Register(unix.SYS_MUNLOCKALL, mlockall)
}

const (
	mapSharedValidate = 0x3
	mapFixedNoreplace = 0x100000
	mapUninitialized  = 0x4000000
	mapSync           = 0x80000
	// Flags Linux accepts (and for most ignores).
	mapKnownFlags = unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_FIXED | unix.MAP_ANONYMOUS |
		unix.MAP_32BIT | unix.MAP_GROWSDOWN | unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE |
		unix.MAP_LOCKED | unix.MAP_NORESERVE | unix.MAP_POPULATE | unix.MAP_NONBLOCK |
		unix.MAP_STACK | unix.MAP_HUGETLB | mapSync | mapFixedNoreplace | mapUninitialized |
		-0x4000000 // huge page size bits (0xfc000000 as int32)
)

func mmap(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	addr, length, prot, flags, fd, off := a[0].Pointer(), a[1].Uint64(), a[2].Int(), a[3].Int(), a[4].Int(), a[5].Uint64()
	typ := flags & mapSharedValidate
	if typ == 0 || (typ == mapSharedValidate && flags&^mapKnownFlags != 0) {
		return 0, unix.EINVAL
	}
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		return 0, unix.EINVAL
	}
	if length == 0 || off&usermem.PageMask != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MAP_HUGETLB != 0 {
		return 0, unix.EINVAL
	}
	fixed := flags&(unix.MAP_FIXED|mapFixedNoreplace) != 0
	if fixed && addr&usermem.PageMask != 0 {
		return 0, unix.EINVAL
	}
	perms := usermem.FromProt(int(prot))
	opts := mm.MMapOpts{
		Length:    length,
		Addr:      addr,
		Fixed:     fixed,
		Unmap:     flags&unix.MAP_FIXED != 0,
		Map32Bit:  flags&unix.MAP_32BIT != 0,
		GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
		Private:   typ == unix.MAP_PRIVATE,
		Precommit: flags&unix.MAP_POPULATE != 0 && flags&unix.MAP_NONBLOCK == 0,
		Perms:     perms,
		MaxPerms:  usermem.AnyAccess,
		Offset:    off,
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		if err := configureFileMMap(t, fd, &opts); err != nil {
			return 0, err
		}
	} else {
		opts.Offset = 0
	}
	if _, ok := usermem.PageRoundUp(length); !ok {
		return 0, unix.ENOMEM
	}
	if off+length < off {
		return 0, unix.EOVERFLOW
	}
	a0, err := t.MemoryManager().MMap(opts)
	return uintptr(a0), err
}

func munmap(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MUnmap(a[0].Pointer(), a[1].Uint64())
}

func mprotect(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	prot := a[2].Int()
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		return 0, unix.EINVAL
	}
	if prot&unix.PROT_GROWSDOWN != 0 && prot&unix.PROT_GROWSUP != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.MemoryManager().MProtect(a[0].Pointer(), a[1].Uint64(), usermem.FromProt(int(prot)), prot&unix.PROT_GROWSDOWN != 0)
}

func brk(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.MemoryManager().Brk(a[0].Pointer())), nil
}

func mremap(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	r, err := t.MemoryManager().MRemap(a[0].Pointer(), a[1].Uint64(), a[2].Uint64(), int(a[3].Int()), a[4].Pointer())
	return uintptr(r), err
}

func madvise(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MAdvise(a[0].Pointer(), a[1].Uint64(), int(a[2].Int()))
}

func mincore(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	addr, length := a[0].Pointer(), a[1].Uint64()
	if addr&usermem.PageMask != 0 {
		return 0, unix.EINVAL
	}
	vec, err := t.MemoryManager().MinCore(addr, length)
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(a[2].Pointer(), vec)
	return 0, err
}

func msync(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MSync(a[0].Pointer(), a[1].Uint64(), int(a[2].Int()))
}

// mlock and friends: all sandbox memory is already resident in the memory
// file as far as the application can tell; validate and succeed.
func mlock(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[0].Pointer()+a[1].Uint64() < a[0].Pointer() {
		return 0, unix.ENOMEM
	}
	return 0, nil
}

func mlockall(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[0].Int()&^7 != 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}
