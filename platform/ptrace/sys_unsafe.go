//go:build linux && amd64

package ptrace

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// Thin, allocation-free wrappers around the host system calls the platform
// uses. ptrace requests must be made from the tracee's tracer OS thread.

func ptraceReq(req int, tid int32, addr, data uintptr) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func getRegs(tid int32, regs *arch.Registers) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(regs)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func setRegs(tid int32, regs *arch.Registers) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(regs)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func getSiginfo(tid int32, buf *[128]byte) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(buf)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// wait4 waits for tid (a tracee or child of the calling thread) to change
// state, retrying on EINTR. It enters the Go scheduler's syscall state,
// since the application may run for a long time before it stops.
func wait4(tid int32, status *unix.WaitStatus, options int) (int32, error) {
	for {
		r, _, e := syscall.Syscall6(unix.SYS_WAIT4, uintptr(tid), uintptr(unsafe.Pointer(status)), uintptr(options|unix.WALL), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int32(r), nil
	}
}

func tgkill(tgid, tid int32, sig unix.Signal) error {
	_, _, e := syscall.RawSyscall(unix.SYS_TGKILL, uintptr(tgid), uintptr(tid), uintptr(sig))
	if e != 0 {
		return e
	}
	return nil
}

// eventOf returns the PTRACE_EVENT_* of a stop status, or 0.
func eventOf(ws unix.WaitStatus) int { return int(ws>>16) & 0xff }

// ntX86XState is the NT_X86_XSTATE regset (the XSAVE area).
const ntX86XState = 0x202

// getXstate reads tid's XSAVE state into buf with PTRACE_GETREGSET and
// returns the number of bytes the kernel wrote.
func getXstate(tid int32, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(tid), ntX86XState, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(iov.Len), nil
}

// setXstate writes tid's XSAVE state from buf with PTRACE_SETREGSET.
func setXstate(tid int32, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(tid), ntX86XState, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// getFPRegs and setFPRegs move the 512-byte FXSAVE region
// (PTRACE_GETFPREGS/SETFPREGS), for hosts without XSAVE.
func getFPRegs(tid int32, buf *[512]byte) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETFPREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(buf)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func setFPRegs(tid int32, buf *[512]byte) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETFPREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(buf)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// getcpu returns the CPU the calling thread runs on (getcpu(2)).
func getcpu() uint32 {
	var cpu uint32
	syscall.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	return cpu
}

// addrOf returns the address of p's first element, for a syscall argument
// that the callee reads from this process' memory (an injected syscall in
// a stub forked from it). The caller keeps p alive across the call.
func addrOf[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

// rseqConfig is struct ptrace_rseq_configuration.
type rseqConfig struct {
	abiPointer uint64
	abiSize    uint32
	signature  uint32
	flags      uint32
	_          uint32
}

// getRseqConfig returns the rseq registration of the stopped tracee tid.
func getRseqConfig(tid int32) (rseqConfig, error) {
	var c rseqConfig
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GET_RSEQ_CONFIGURATION, uintptr(tid),
		unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)), 0, 0)
	if e != 0 {
		return c, e
	}
	return c, nil
}
