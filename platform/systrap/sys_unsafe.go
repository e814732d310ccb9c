//go:build linux && amd64

package systrap

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// Thin, allocation-free wrappers around the host system calls the platform
// uses, and the atomic views of the memory it shares with the stubs.

// ptraceRegs is struct user_regs_struct.
type ptraceRegs = arch.Registers

func ptraceReq(req int, pid int32, addr, data uintptr) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func getRegs(pid int32, regs *ptraceRegs) error {
	return ptraceReq(unix.PTRACE_GETREGS, pid, 0, uintptr(unsafe.Pointer(regs)))
}

func setRegs(pid int32, regs *ptraceRegs) error {
	return ptraceReq(unix.PTRACE_SETREGS, pid, 0, uintptr(unsafe.Pointer(regs)))
}

// rseqConfig is struct ptrace_rseq_configuration.
type rseqConfig struct {
	abiPointer uint64
	abiSize    uint32
	signature  uint32
	flags      uint32
	_          uint32
}

func getRseqConfig(pid int32) (rseqConfig, error) {
	var c rseqConfig
	err := ptraceReq(unix.PTRACE_GET_RSEQ_CONFIGURATION, pid, unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)))
	return c, err
}

// wait4 waits for pid, retrying on EINTR.
func wait4(pid int32, status *unix.WaitStatus, options int) (int32, error) {
	for {
		r, _, e := syscall.Syscall6(unix.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(status)), uintptr(options|unix.WALL), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int32(r), nil
	}
}

// reapIfDead reaps the child pid if it has exited and reports whether it
// did (or is no child of ours any more). It uses wait4, which the sentry's
// seccomp filter allows, rather than waitid's WNOWAIT; the caller must
// record that pid is reaped so that nobody signals or waits for it again.
func reapIfDead(pid int32) bool {
	var ws unix.WaitStatus
	r, err := wait4(pid, &ws, unix.WNOHANG)
	return err != nil || r == pid
}

func tgkill(pid, tid int32, sig unix.Signal) error {
	_, _, e := syscall.RawSyscall(unix.SYS_TGKILL, uintptr(pid), uintptr(tid), uintptr(sig))
	if e != 0 {
		return e
	}
	return nil
}

// futexWake wakes a waiter on a word shared with a stub (not
// FUTEX_PRIVATE: the stub maps it from the same file).
func futexWake(w *uint32) {
	syscall.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakeOp, 1, 0, 0, 0)
}

// futexWait sleeps while *w == v, for at most timeout. It enters the Go
// scheduler's syscall state, as the wait may be long.
func futexWait(w *uint32, v uint32, timeout *unix.Timespec) {
	syscall.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitOp, uintptr(v), uintptr(unsafe.Pointer(timeout)), 0, 0)
}

// word returns the 32-bit word at off in b, for atomic access.
func word(b []byte, off int) *uint32 {
	_ = b[off+3]
	return (*uint32)(unsafe.Pointer(&b[off]))
}

// patchRegs returns the state page's register words of the patch
// trampoline: T_PREGS (sigcontext order) and T_CREGS. Plain loads and
// stores: the thread is parked while the sentry uses them.
func patchRegs(page []byte) (p *[18]uint64, c *[8]uint64) {
	_ = page[tCRegsEnd-1]
	return (*[18]uint64)(unsafe.Pointer(&page[tPRegs])), (*[8]uint64)(unsafe.Pointer(&page[tCRegs]))
}

// load and swap are the atomic accesses to shared words. Swap is an XCHG:
// a full barrier, which the sleep/wake handshake with the stub needs.
func load(w *uint32) uint32           { return atomic.LoadUint32(w) }
func swap(w *uint32, v uint32) uint32 { return atomic.SwapUint32(w, v) }

// addrOf returns the address of p, for an injected syscall argument read
// from the child's copy of the sentry.
func addrOf[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

// Futex operations (include/uapi/linux/futex.h), without FUTEX_PRIVATE_FLAG:
// the words are shared between processes.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)
