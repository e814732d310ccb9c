//go:build linux && amd64

package ptrace

import (
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Address-space constants. See README.md.
const (
	// minUserAddress is the lowest address an application may map.
	minUserAddress = 0x10000

	// maxUserAddress is the end of the application range. Everything in
	// [maxUserAddress, hostTaskSize) belongs to the platform; the stub code
	// page lives there.
	maxUserAddress = 0x7ff000000000

	// hostTaskSize is the end of the x86-64 4-level-paging user address
	// space (TASK_SIZE_MAX).
	hostTaskSize = 0x7ffffffff000

	pageSize = 4096
)

// The stub code page. It is position independent; its address is chosen at
// New (the first free page at or above maxUserAddress in the sentry) and is
// part of the seccomp filter.
//
//	off 0x00  0f 05     syscall          ; stubSyscallOff: every injected syscall
//	off 0x02  cc        int3             ; stubTrapOff: stop after it; also where a
//	                                     ; new stub enters and waits for its tracer
//	off 0x03  0f 05     syscall          ; stubCloneOff: clone of a new stub thread
//	off 0x05  48 85 c0  test rax, rax
//	off 0x08  75 f8     jnz  0x02        ; the parent (rax = tid or -errno) stops
//	off 0x0a  f3 90     pause            ; stubSpinOff: the new thread (rax = 0)
//	off 0x0c  eb fc     jmp  0x0a        ; spins, untraced, until its tracer seizes it
//
// Nothing else is mapped in a stub (in particular no stack), so the stub code
// never touches memory.
var stubCode = [...]byte{
	0x0f, 0x05,
	0xcc,
	0x0f, 0x05,
	0x48, 0x85, 0xc0,
	0x75, 0xf8,
	0xf3, 0x90,
	0xeb, 0xfc,
}

const (
	stubSyscallOff = 0x00
	stubTrapOff    = 0x02
	stubCloneOff   = 0x03
	stubSpinOff    = 0x0a
)

const (
	// forkCloneFlags creates a new address space from the pre-made stub.
	// CLONE_PARENT makes the sentry's control thread (not the pre-made
	// stub) its parent, so that the sentry reaps it and its
	// PR_SET_PDEATHSIG refers to the sentry.
	forkCloneFlags = unix.CLONE_PARENT | uint64(unix.SIGCHLD)

	// threadCloneFlags creates an additional thread in a stub.
	threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES |
		unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM
)

// mapStubPage maps stubCode read+execute at the first free page at or above
// maxUserAddress in the sentry's own address space (the pre-made stub inherits
// it) and returns its address. The page is written through a memfd so that
// no Go code (nor the race detector) ever touches memory above the Go
// address range.
func mapStubPage() (uint64, error) {
	fd, err := unix.MemfdCreate("rampart-stub", unix.MFD_CLOEXEC)
	if err != nil {
		return 0, fmt.Errorf("memfd_create for the stub page: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, pageSize); err != nil {
		return 0, fmt.Errorf("sizing the stub page: %w", err)
	}
	if _, err := unix.Pwrite(fd, stubCode[:], 0); err != nil {
		return 0, fmt.Errorf("writing the stub page: %w", err)
	}
	// Try a few candidates; the sentry's own stack, vDSO or top-down mmaps
	// may occupy some of them.
	for addr := uint64(maxUserAddress); addr+pageSize <= hostTaskSize; addr += 1 << 30 {
		r, _, e := syscall.Syscall6(unix.SYS_MMAP, uintptr(addr), pageSize,
			unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_FIXED_NOREPLACE, uintptr(fd), 0)
		if e == 0 && uint64(r) == addr {
			return addr, nil
		}
		if e == 0 {
			// Old kernels ignore MAP_FIXED_NOREPLACE and treat it as a hint.
			syscall.Syscall(unix.SYS_MUNMAP, r, pageSize, 0)
			continue
		}
		if e != unix.EEXIST {
			return 0, fmt.Errorf("mapping the stub page at %#x: %w", addr, e)
		}
	}
	return 0, fmt.Errorf("no free page for the stub above %#x", maxUserAddress)
}

// forkArgs is everything the child half of forkStub needs, prepared by the
// parent so that the child only issues raw system calls. Pointers are held as
// uintptr; the parent keeps the objects alive.
type forkArgs struct {
	ppid      uintptr // the sentry's pid, to detect a parent that died early
	memFD     uintptr // the only descriptor the stub keeps
	entry     uintptr // stubPage + stubTrapOff
	allMask   uintptr // *uint64 with every signal set
	emptyMask uintptr // *uint64 with no signal set
	oldMask   uintptr // *uint64: the parent's mask, restored after clone
}

// forkStub creates the pre-made stub: a copy of the sentry made by a raw
// clone from the calling (locked, control) OS thread. The child, which must
// not touch the Go runtime (no stack growth, no allocation, no scheduler),
// sets itself up with raw system calls and jumps to the stub's int3, where
// its tracer (the calling thread, via PTRACE_TRACEME) takes over: see
// Platform.startPremade.
//
// Signals are blocked across clone so that no Go signal handler can run in
// the child before it is traced.
//
//go:norace
//go:nosplit
func forkStub(a *forkArgs) (pid uintptr, errno syscall.Errno) {
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, a.allMask, a.oldMask, 8, 0, 0)
	pid, _, errno = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		// Parent (or failure).
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, a.oldMask, 0, 8, 0, 0)
		return pid, errno
	}

	// Child. Any failure exits; the parent sees the exit status.
	if _, _, e := syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 10, 0, 0)
	}
	if p, _, _ := syscall.RawSyscall(unix.SYS_GETPPID, 0, 0, 0); p != a.ppid {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 11, 0, 0)
	}
	// Leave the sentry's session so that terminal signals never reach stubs.
	syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0)
	if a.memFD > 0 {
		if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, 0, a.memFD-1, 0); e != 0 {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 12, 0, 0)
		}
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, a.memFD+1, 0xffffffff, 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 13, 0, 0)
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 14, 0, 0)
	}
	// Traced from here on: every signal becomes a stop the tracer decides on.
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, a.emptyMask, 0, 8, 0, 0)
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 15, 0, 0)
	}
	// Stop at the stub's int3. The tracer removes any rseq registration
	// inherited from the sentry thread (its area is about to be unmapped),
	// installs the seccomp filter and unmaps everything else.
	jumpTo(a.entry)
	for {
	}
}

// jumpTo transfers control to pc and never returns. Implemented in
// stub_amd64.s.
//
//go:noescape
func jumpTo(pc uintptr)

// startStub runs forkStub with its arguments and returns the new pre-made
// stub's pid. It must be called on the locked control thread, which becomes
// the stub's parent and tracer.
func startStub(stubPage uint64, memFD int) (int32, error) {
	masks := new([3]uint64)
	masks[0] = ^uint64(0)
	a := &forkArgs{
		ppid:      uintptr(unix.Getpid()),
		memFD:     uintptr(memFD),
		entry:     uintptr(stubPage + stubTrapOff),
		allMask:   uintptr(addrOf(&masks[0])),
		emptyMask: uintptr(addrOf(&masks[1])),
		oldMask:   uintptr(addrOf(&masks[2])),
	}
	pid, errno := forkStub(a)
	runtime.KeepAlive(masks)
	runtime.KeepAlive(a)
	if errno != 0 {
		return 0, fmt.Errorf("clone of the pre-made stub: %w", errno)
	}
	return int32(pid), nil
}
