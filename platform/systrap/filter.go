//go:build linux && amd64

package systrap

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// This file builds the stubs' two seccomp filters, classic BPF over struct
// seccomp_data assembled with bpf.Assembler.
//
// The process filter (installed in the pre-made stub, inherited by every
// stub) sorts syscalls by instruction pointer. From outside the platform's
// region (application code) every syscall traps (SECCOMP_RET_TRAP: SIGSYS
// to the stub's handler, which hands it to the sentry). From inside the
// stub image only the syscalls of stub.S, each from its own instruction,
// with the arguments the platform uses, are allowed; anything else kills the
// process.
//
// The thread filter, which every application thread adds to its own
// before it first runs application code, allows only what the signal
// handler needs (futex, rt_sigreturn, exit, arch_prctl setting the fs or gs
// base, each from its instruction) and
// traps everything else. Filters stack and the stricter action wins, so an
// application that jumps into the stub image can neither run the server
// thread's syscalls (mmap of the memory file, clone: trapped) nor anything
// outside the process filter's list (killed).

// ipAfter is the instruction pointer seccomp reports for the syscall
// instruction at offset off of the image (the address after it).
func ipAfter(base uint64, off uint64) uint32 { return uint32(base + off + 2) }

// processFilter returns the filter of every stub process.
func processFilter(base uint64, memFD, sharedFD int) ([]unix.SockFilter, error) {
	var b bpf.Assembler
	b.ArchIs("kill")
	b.LoadAbs(bpf.SeccompDataIPHigh)
	// The image and the regions share the high half; application code,
	// below maxUserAddress, never does.
	b.JEq(uint32((base+2)>>32), "", "trap")
	b.LoadAbs(bpf.SeccompDataIPLow)
	b.JEq(ipAfter(base, offHandlerWake), "futex", "")
	b.JEq(ipAfter(base, offHandlerWait), "futex", "")
	b.JEq(ipAfter(base, offServerWait), "futex", "")
	b.JEq(ipAfter(base, offServerWake), "futex", "")
	b.JEq(ipAfter(base, offHandlerSigreturn), "sigreturn", "")
	b.JEq(ipAfter(base, offHandlerExit), "exit", "")
	b.JEq(ipAfter(base, offSetFsSyscall), "setfs", "")
	b.JEq(ipAfter(base, offSetGsSyscall), "setgs", "")
	b.JEq(ipAfter(base, offServerSyscall), "server", "")
	b.JEq(ipAfter(base, offForkPrctl), "prctl", "")
	b.JEq(ipAfter(base, offForkMmapRw), "sharedmmap", "")
	b.JEq(ipAfter(base, offForkMmapRo), "sharedmmap", "")
	b.JEq(ipAfter(base, offForkMmapPtr), "sharedmmap", "")
	b.JEq(ipAfter(base, offThreadSigaltstack), "sigaltstack", "")
	b.JEq(ipAfter(base, offThreadSigprocmask), "sigprocmask", "")
	b.JEq(ipAfter(base, offThreadSeccomp), "seccomp", "")
	b.JEq(ipAfter(base, offInjectSyscall), "inject", "kill")

	b.Label("futex")
	b.NrIs(unix.SYS_FUTEX, "kill")
	b.LoadAbs(bpf.ArgLow(1))
	b.JEq(futexWaitOp, "allow", "")
	b.JEq(futexWakeOp, "allow", "kill")

	b.Label("sigreturn")
	b.NrIs(unix.SYS_RT_SIGRETURN, "kill")
	b.Ret(bpf.RetAllow)

	b.Label("exit")
	b.NrIs(unix.SYS_EXIT, "kill")
	b.Ret(bpf.RetAllow)

	archPrctl(&b, "kill")

	b.Label("server")
	b.NrIs(unix.SYS_MMAP, "server_munmap")
	b.LoadAbs(bpf.ArgHigh(3))
	b.JEq(0, "", "kill")
	b.LoadAbs(bpf.ArgLow(3))
	b.JEq(unix.MAP_SHARED|unix.MAP_FIXED, "server_memfd", "")
	b.JEq(unix.MAP_SHARED|unix.MAP_FIXED|unix.MAP_POPULATE, "", "kill")
	b.Label("server_memfd")
	b.ArgEq(4, uint64(memFD), "kill")
	b.Ret(bpf.RetAllow)
	b.Label("server_munmap")
	b.JEq(unix.SYS_MUNMAP, "allow", "")
	b.JEq(unix.SYS_MPROTECT, "", "server_clone")
	b.ArgNoBits(2, ^uint64(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC), "kill")
	b.Ret(bpf.RetAllow)
	b.Label("server_clone")
	b.JEq(unix.SYS_CLONE, "", "kill")
	b.ArgEq(1, 0, "kill") // no new stack
	b.LoadAbs(bpf.ArgHigh(0))
	b.JEq(0, "", "kill")
	b.LoadAbs(bpf.ArgLow(0))
	b.JEq(uint32(threadFlags), "allow", "")
	b.JEq(uint32(forkFlags), "allow", "kill")

	b.Label("prctl")
	b.NrIs(unix.SYS_PRCTL, "kill")
	b.ArgEq(0, unix.PR_SET_PDEATHSIG, "kill")
	b.ArgEq(1, uint64(unix.SIGKILL), "kill")
	b.Ret(bpf.RetAllow)

	b.Label("sharedmmap")
	b.NrIs(unix.SYS_MMAP, "kill")
	b.ArgEq(3, unix.MAP_SHARED|unix.MAP_FIXED, "kill")
	b.ArgEq(4, uint64(sharedFD), "kill")
	b.Ret(bpf.RetAllow)

	b.Label("sigaltstack")
	b.NrIs(unix.SYS_SIGALTSTACK, "kill")
	b.Ret(bpf.RetAllow)

	b.Label("sigprocmask")
	b.NrIs(unix.SYS_RT_SIGPROCMASK, "kill")
	b.Ret(bpf.RetAllow)

	b.Label("seccomp")
	b.NrIs(unix.SYS_SECCOMP, "kill")
	b.Ret(bpf.RetAllow)

	// The injection point is used only while the pre-made stub is set
	// up; its last step, after this filter, unmaps the sentry's copy.
	b.Label("inject")
	b.NrIs(unix.SYS_MUNMAP, "kill")
	b.Ret(bpf.RetAllow)

	b.Label("allow")
	b.Ret(bpf.RetAllow)
	b.Label("trap")
	b.Ret(bpf.RetTrap)
	b.Label("kill")
	b.Ret(bpf.RetKillProcess)
	return b.AssembleSock()
}

// arch_prctl codes (asm/prctl.h).
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
)

// archPrctl assembles the rules of set_fs_syscall ("setfs") and
// set_gs_syscall ("setgs"): each may set its own base only, which the
// handler does on hosts without FSGSBASE. Anything else goes to other.
func archPrctl(b *bpf.Assembler, other string) {
	b.Label("setfs")
	b.NrIs(unix.SYS_ARCH_PRCTL, other)
	b.ArgEq(0, archSetFS, other)
	b.Ret(bpf.RetAllow)
	b.Label("setgs")
	b.NrIs(unix.SYS_ARCH_PRCTL, other)
	b.ArgEq(0, archSetGS, other)
	b.Ret(bpf.RetAllow)
}

// threadFilter returns the filter every application thread adds.
func threadFilter(base uint64) ([]unix.SockFilter, error) {
	var b bpf.Assembler
	b.ArchIs("kill")
	b.LoadAbs(bpf.SeccompDataIPHigh)
	b.JEq(uint32((base+2)>>32), "", "trap")
	b.LoadAbs(bpf.SeccompDataIPLow)
	b.JEq(ipAfter(base, offHandlerWake), "futex", "")
	b.JEq(ipAfter(base, offHandlerWait), "futex", "")
	b.JEq(ipAfter(base, offHandlerSigreturn), "sigreturn", "")
	b.JEq(ipAfter(base, offHandlerExit), "exit", "")
	b.JEq(ipAfter(base, offSetFsSyscall), "setfs", "")
	b.JEq(ipAfter(base, offSetGsSyscall), "setgs", "trap")

	b.Label("futex")
	b.NrIs(unix.SYS_FUTEX, "trap")
	b.Ret(bpf.RetAllow)
	archPrctl(&b, "trap")
	b.Label("sigreturn")
	b.NrIs(unix.SYS_RT_SIGRETURN, "trap")
	b.Ret(bpf.RetAllow)
	b.Label("exit")
	b.NrIs(unix.SYS_EXIT, "trap")
	b.Ret(bpf.RetAllow)

	b.Label("trap")
	b.Ret(bpf.RetTrap)
	b.Label("kill")
	b.Ret(bpf.RetKillProcess)
	return b.AssembleSock()
}
