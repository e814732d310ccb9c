//go:build linux && amd64

package systrap

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// stubBin is stubsrc/stub.S assembled (stubsrc/build.sh, `make
// systrap-stub`): the code page followed by a zeroed data page.
//
//go:embed stub.bin
var stubBin []byte

// buildImage returns the stub image for base: stub.bin with its data page
// filled in (the thread filter and its sock_fprog, an empty signal mask, the
// region size, the shared file's descriptor, the platform's magic, whether
// the host lacks FSGSBASE, where syscall patching's pointer table goes if
// patch is set), followed by the patch thunks.
func buildImage(base uint64, sharedFD int, patch bool, magic uint64, noFSGS bool) ([]byte, error) {
	if len(stubBin) != stubBinSize || offStubEnd > imgDataOff {
		return nil, fmt.Errorf("stub.bin is %d bytes with code up to %#x; rebuild it", len(stubBin), offStubEnd)
	}
	filter, err := threadFilter(base)
	if err != nil {
		return nil, err
	}
	if len(filter) > maxFilterLength {
		return nil, fmt.Errorf("thread filter too long (%d instructions)", len(filter))
	}
	img := make([]byte, imageSize)
	copy(img, stubBin)
	d := img[imgDataOff:]
	le := binary.LittleEndian
	le.PutUint16(d[dFprog:], uint16(len(filter)))
	le.PutUint64(d[dFprog+8:], base+imgDataOff+dFilter)
	le.PutUint64(d[dEmptyMask:], 0)
	le.PutUint64(d[dRegionSize:], regionSize)
	le.PutUint64(d[dSharedFD:], uint64(sharedFD))
	le.PutUint64(d[dMagic:], magic)
	if noFSGS {
		le.PutUint32(d[dNoFSGS:], 1)
	}
	le.PutUint64(d[dServerWait:], uint64(livenessPeriod.Sec))
	le.PutUint64(d[dServerWait+8:], uint64(livenessPeriod.Nsec))
	if patch {
		// The pointer table and the Go view (patch.go); the zeroed
		// entry after them ends the list.
		for i, v := range [][3]uint64{{ptrTableAddr, ptrTableLen, ptrTableFileOff}, {goViewAddr, pageSize, goViewFileOff}} {
			for j, w := range v {
				le.PutUint64(d[dViews+24*i+8*j:], w)
			}
		}
	}
	writeThunks(img[thunksOff:], base)
	for i, f := range filter {
		o := dFilter + 8*i
		le.PutUint16(d[o:], f.Code)
		d[o+2] = f.Jt
		d[o+3] = f.Jf
		le.PutUint32(d[o+4:], f.K)
	}
	return img, nil
}

// mapImage maps img at the first free gigabyte boundary at or above
// maxUserAddress in the sentry (the pre-made stub inherits it): the code
// page and the patch thunks read+execute, the data page read-only. The image is written through
// a memfd, so no Go code touches memory above the Go address range.
func mapImage(build func(base uint64) ([]byte, error)) (uint64, error) {
	fd, err := unix.MemfdCreate("rampart-systrap-stub", unix.MFD_CLOEXEC)
	if err != nil {
		return 0, fmt.Errorf("memfd_create for the stub image: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, imageSize); err != nil {
		return 0, fmt.Errorf("sizing the stub image: %w", err)
	}
	for base := uint64(maxUserAddress); base+regionGap+regionSize <= hostTaskSize; base += 1 << 30 {
		img, err := build(base)
		if err != nil {
			return 0, err
		}
		if _, err := unix.Pwrite(fd, img, 0); err != nil {
			return 0, fmt.Errorf("writing the stub image: %w", err)
		}
		r, _, e := syscall.Syscall6(unix.SYS_MMAP, uintptr(base), imageSize,
			unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED_NOREPLACE, uintptr(fd), 0)
		if e == 0 && uint64(r) != base {
			// Old kernels take MAP_FIXED_NOREPLACE as a hint.
			syscall.Syscall(unix.SYS_MUNMAP, r, imageSize, 0)
			continue
		}
		if e == unix.EEXIST {
			continue
		}
		if e != 0 {
			return 0, fmt.Errorf("mapping the stub image at %#x: %w", base, e)
		}
		if _, _, e := syscall.Syscall(unix.SYS_MPROTECT, uintptr(base), pageSize, unix.PROT_READ|unix.PROT_EXEC); e != 0 {
			syscall.Syscall(unix.SYS_MUNMAP, uintptr(base), imageSize, 0)
			return 0, fmt.Errorf("making the stub code executable: %w", e)
		}
		if _, _, e := syscall.Syscall(unix.SYS_MPROTECT, uintptr(base+thunksOff), thunksSize, unix.PROT_READ|unix.PROT_EXEC); e != 0 {
			syscall.Syscall(unix.SYS_MUNMAP, uintptr(base), imageSize, 0)
			return 0, fmt.Errorf("making the patch thunks executable: %w", e)
		}
		return base, nil
	}
	return 0, fmt.Errorf("no free gigabyte for the stub above %#x", maxUserAddress)
}

// forkArgs is everything the child half of forkStub needs, prepared by the
// parent so that the child only issues raw system calls.
type forkArgs struct {
	ppid    uintptr
	keep    [2]uintptr // the descriptors the stub keeps, ascending
	entry   uintptr    // the injection int3
	allMask uintptr
	oldMask uintptr
	// The child's own set-up, made before it stops (each one an
	// injection before, about 100 us in a VM): the stub's handler for
	// sigs (act), the mask of the stub's threads (runMask: all but
	// SIGTRAP), and the region and its read-only request page (mmaps:
	// addr, length, prot, flags, fd, off).
	act     uintptr
	sigs    [len(handledSignals)]uintptr
	runMask uintptr
	mmaps   [2][6]uintptr
}

// forkStub creates the pre-made stub: a raw clone of the sentry made from
// the calling (locked) OS thread. The child, which must not touch the Go
// runtime, sets itself up with raw system calls and stops at the image's
// int3 under PTRACE_TRACEME, where its parent takes over (setupPremade).
//
//go:norace
//go:nosplit
func forkStub(a *forkArgs) (pid uintptr, errno syscall.Errno) {
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, a.allMask, a.oldMask, 8, 0, 0)
	pid, _, errno = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, a.oldMask, 0, 8, 0, 0)
		return pid, errno
	}
	// Child. Any failure exits; the parent sees the status.
	if _, _, e := syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 10, 0, 0)
	}
	if p, _, _ := syscall.RawSyscall(unix.SYS_GETPPID, 0, 0, 0); p != a.ppid {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 11, 0, 0)
	}
	syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0)
	lo := uintptr(0)
	for _, fd := range a.keep {
		if fd > lo {
			if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, lo, fd-1, 0); e != 0 {
				syscall.RawSyscall(unix.SYS_EXIT_GROUP, 12, 0, 0)
			}
		}
		lo = fd + 1
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, lo, 0xffffffff, 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 13, 0, 0)
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 14, 0, 0)
	}
	for _, sig := range a.sigs {
		if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, a.act, 0, 8, 0, 0); e != 0 {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 16, 0, 0)
		}
	}
	for i := range a.mmaps {
		m := &a.mmaps[i]
		if r, _, e := syscall.RawSyscall6(unix.SYS_MMAP, m[0], m[1], m[2], m[3], m[4], m[5]); e != 0 || r != m[0] {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 17, 0, 0)
		}
	}
	// The server thread runs with every signal but SIGTRAP blocked: a
	// fault in it kills the stub. (A forced signal that is blocked resets
	// its handler, and each injection ends with an int3; nothing sends a
	// server thread SIGTRAP.) Application threads unblock them (stub.S).
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, a.runMask, 0, 8, 0, 0)
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 15, 0, 0)
	}
	jumpTo(a.entry)
	for {
	}
}

// jumpTo transfers control to pc and never returns (stub_amd64.s).
//
//go:noescape
func jumpTo(pc uintptr)

// kernelSigaction is struct sigaction as the rt_sigaction syscall takes it.
type kernelSigaction struct {
	handler  uint64
	flags    uint64
	restorer uint64
	mask     uint64
}

// Signal-action flags.
const (
	saSiginfo  = 0x4
	saOnstack  = 0x08000000
	saRestorer = 0x04000000
)

// interruptSignal is what Interrupt sends to a stub thread running
// application code; its handler is the same as the faults'.
const interruptSignal = unix.SIGCHLD

// handledSignals are the signals whose handler is the stub's.
var handledSignals = [...]unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, interruptSignal}

// setupSink makes the set-up data escape to the heap (see startPremade).
var setupSink atomic.Pointer[setupData]

// setupData is the memory the injected set-up syscalls read. It is
// allocated before the fork, so the child's copy of the sentry has it at
// the same address.
type setupData struct {
	masks  [3]uint64 // all, old, all but SIGTRAP
	act    kernelSigaction
	fprog  unix.SockFprog
	filter []unix.SockFilter
	args   forkArgs
}

// startPremade creates the pre-made stub on the calling (locked) OS thread,
// which stays its parent and must not exit while the platform lives (the
// stubs' PR_SET_PDEATHSIG refers to it). The stub is set up by injection
// under ptrace and then detached, running its server loop on region slice
// 0.
func (p *Platform) startPremade() (int32, error) {
	filter, err := processFilter(p.base, p.memFD, p.sharedFD)
	if err != nil {
		return 0, err
	}
	// d must be on the heap: the child reads it at the addresses it had
	// at the fork, and a goroutine stack moves when it grows (escape
	// analysis would otherwise keep d on the stack, since only uintptrs
	// of it are taken).
	d := &setupData{filter: filter}
	setupSink.Store(d)
	defer setupSink.Store(nil)
	d.masks[0] = ^uint64(0)
	d.masks[2] = ^uint64(1 << (unix.SIGTRAP - 1))
	d.act = kernelSigaction{
		handler:  p.base + offHandler,
		flags:    saSiginfo | saOnstack | saRestorer,
		restorer: p.base + offDie,
		mask:     ^uint64(0),
	}
	d.fprog = unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	keep := [2]uintptr{uintptr(p.memFD), uintptr(p.sharedFD)}
	if keep[0] > keep[1] {
		keep[0], keep[1] = keep[1], keep[0]
	}
	d.args = forkArgs{
		ppid:    uintptr(unix.Getpid()),
		keep:    keep,
		entry:   uintptr(p.base + offInjectTrap),
		allMask: uintptr(addrOf(&d.masks[0])),
		oldMask: uintptr(addrOf(&d.masks[1])),
		act:     uintptr(addrOf(&d.act)),
		runMask: uintptr(addrOf(&d.masks[2])),
		mmaps: [2][6]uintptr{
			{uintptr(p.regionAddr), regionSize, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED | unix.MAP_FIXED, uintptr(p.sharedFD), uintptr(p.premade.off)},
			{uintptr(p.regionAddr), pageSize, unix.PROT_READ, unix.MAP_SHARED | unix.MAP_FIXED, uintptr(p.sharedFD), uintptr(p.premade.off)},
		},
	}
	for i, sig := range handledSignals {
		d.args.sigs[i] = uintptr(sig)
	}
	r, errno := forkStub(&d.args)
	if errno != 0 {
		return 0, fmt.Errorf("clone of the pre-made stub: %w", errno)
	}
	pid := int32(r)
	err = p.setupPremade(pid, d)
	runtime.KeepAlive(d)
	runtime.KeepAlive(filter)
	if err != nil {
		unix.Kill(int(pid), unix.SIGKILL)
		var ws unix.WaitStatus
		wait4(pid, &ws, 0)
		return 0, err
	}
	return pid, nil
}

// setupPremade runs the injected set-up of the pre-made stub and detaches
// it.
func (p *Platform) setupPremade(pid int32, d *setupData) error {
	var ws unix.WaitStatus
	for {
		if _, err := wait4(pid, &ws, 0); err != nil {
			return fmt.Errorf("waiting for the pre-made stub: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			return fmt.Errorf("pre-made stub died: %#x", ws)
		}
		if ws.StopSignal() == unix.SIGTRAP {
			break
		}
		if err := ptraceReq(unix.PTRACE_CONT, pid, 0, 0); err != nil {
			return fmt.Errorf("continuing the pre-made stub: %w", err)
		}
	}
	var regs ptraceRegs
	if err := getRegs(pid, &regs); err != nil {
		return fmt.Errorf("PTRACE_GETREGS on the pre-made stub: %w", err)
	}
	if regs.Rip != p.base+offInjectTrap+1 {
		return fmt.Errorf("pre-made stub stopped at %#x, want %#x", regs.Rip, p.base+offInjectTrap+1)
	}
	inject := func(what string, nr uintptr, args ...uint64) error {
		_, err := p.inject(pid, regs, nr, args...)
		if err != nil {
			return fmt.Errorf("%s in the pre-made stub: %w", what, err)
		}
		return nil
	}
	// A libc-linked sentry (-race) registered an rseq area, inherited by
	// the child, that is about to be unmapped.
	if rc, err := getRseqConfig(pid); err == nil && rc.abiPointer != 0 {
		const rseqFlagUnregister = 1
		if err := inject("unregistering rseq", unix.SYS_RSEQ, rc.abiPointer, uint64(rc.abiSize), rseqFlagUnregister, uint64(rc.signature)); err != nil {
			return err
		}
	}
	// The handlers, the mask and the region are set up by the child
	// itself (forkStub). What is left needs the image: the filter, and
	// then the sentry's memory unmapped.
	if err := inject("installing the seccomp filter", unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, addrOf(&d.fprog)); err != nil {
		return err
	}
	end := p.base + imageSize
	for _, r := range [][2]uint64{{0, p.base}, {end, p.regionAddr - end}, {p.regionAddr + regionSize, hostTaskSize - p.regionAddr - regionSize}} {
		if err := inject("unmapping the sentry", unix.SYS_MUNMAP, r[0], r[1]); err != nil {
			return err
		}
	}
	// Start the server loop and let go.
	regs.Rip = p.base + offServerLoop
	regs.Rbx = p.regionAddr
	regs.R14 = p.regionAddr + respOff
	regs.R15 = 0
	regs.Orig_rax = ^uint64(0)
	if err := setRegs(pid, &regs); err != nil {
		return fmt.Errorf("PTRACE_SETREGS on the pre-made stub: %w", err)
	}
	if err := ptraceReq(unix.PTRACE_DETACH, pid, 0, 0); err != nil {
		return fmt.Errorf("PTRACE_DETACH of the pre-made stub: %w", err)
	}
	return nil
}

// inject runs one syscall in the stopped tracee pid at the image's
// injection point, starting from regs, and returns its result.
func (p *Platform) inject(pid int32, regs ptraceRegs, nr uintptr, args ...uint64) (uint64, error) {
	regs.Rip = p.base + offInjectSyscall
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	var a [6]uint64
	copy(a[:], args)
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := setRegs(pid, &regs); err != nil {
		return 0, fmt.Errorf("PTRACE_SETREGS: %w", err)
	}
	if err := ptraceReq(unix.PTRACE_CONT, pid, 0, 0); err != nil {
		return 0, fmt.Errorf("PTRACE_CONT: %w", err)
	}
	for {
		var ws unix.WaitStatus
		if _, err := wait4(pid, &ws, 0); err != nil {
			return 0, fmt.Errorf("wait4: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			return 0, fmt.Errorf("stub died: %#x", ws)
		}
		if ws.StopSignal() == unix.SIGTRAP {
			break
		}
		if err := ptraceReq(unix.PTRACE_CONT, pid, 0, 0); err != nil {
			return 0, fmt.Errorf("PTRACE_CONT: %w", err)
		}
	}
	if err := getRegs(pid, &regs); err != nil {
		return 0, fmt.Errorf("PTRACE_GETREGS: %w", err)
	}
	if regs.Rip != p.base+offInjectTrap+1 {
		return 0, fmt.Errorf("stopped at %#x after an injected syscall", regs.Rip)
	}
	if e := int64(regs.Rax); e < 0 && e >= -4095 {
		return 0, unix.Errno(-e)
	}
	return regs.Rax, nil
}
