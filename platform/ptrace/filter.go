//go:build linux && amd64

package ptrace

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// This file builds the stub's seccomp filter: a classic BPF program over
// struct seccomp_data, assembled with bpf.Assembler.
//
// Application syscalls never reach the filter: PTRACE_SYSEMU reports them at
// syscall entry and skips them before seccomp runs. The filter therefore only
// sees the syscalls the platform injects, and it allows exactly those, with
// the arguments the platform uses, from the stub's own syscall instructions.
// Anything else kills the whole stub process (SECCOMP_RET_KILL_PROCESS), so a
// tracee that escapes its tracer cannot turn into a host syscall.

// stubFilter returns the seccomp program of every stub whose code page is at
// stubPage and whose memory file descriptor is memFD.
//
// Allowed, from the injection instruction (stubPage+stubSyscallOff) only:
//
//	mmap(any, any, any, MAP_SHARED|MAP_FIXED, memFD, any)    MapFile
//	munmap                                                   Unmap, stub set-up
//	clone(CLONE_PARENT|SIGCHLD, 0, ...)                      new address space
//	prctl(PR_SET_PDEATHSIG, SIGKILL)                         new address space
//	exit                                                     Context.Release
//
// and, from the thread-creation instruction (stubPage+stubCloneOff) only:
//
//	clone(threadCloneFlags, 0, ...)                          new stub thread
//
// Everything else, and anything from another address, kills the process.
func stubFilter(stubPage uint64, memFD int) ([]unix.SockFilter, error) {
	injectIP := stubPage + stubSyscallOff + 2 // seccomp sees the address after "syscall"
	cloneIP := stubPage + stubCloneOff + 2
	var b bpf.Assembler

	b.ArchIs("kill")
	b.LoadAbs(bpf.SeccompDataIPHigh)
	b.JEq(uint32(injectIP>>32), "", "kill") // both IPs share the page, so the high half
	b.LoadAbs(bpf.SeccompDataIPLow)
	b.JEq(uint32(cloneIP), "clone_ip", "")
	b.JEq(uint32(injectIP), "", "kill")

	// From the injection instruction.
	b.LoadAbs(bpf.SeccompDataNr)
	b.JEq(unix.SYS_MMAP, "mmap", "")
	b.JEq(unix.SYS_MUNMAP, "allow", "")
	b.JEq(unix.SYS_CLONE, "fork", "")
	b.JEq(unix.SYS_PRCTL, "prctl", "")
	b.JEq(unix.SYS_EXIT, "allow", "kill")

	b.Label("mmap")
	b.ArgEq(3, unix.MAP_SHARED|unix.MAP_FIXED, "kill")
	b.ArgEq(4, uint64(memFD), "kill")
	b.Ret(bpf.RetAllow)

	b.Label("fork")
	b.ArgEq(0, forkCloneFlags, "kill")
	b.ArgEq(1, 0, "kill")
	b.Ret(bpf.RetAllow)

	b.Label("prctl")
	b.ArgEq(0, unix.PR_SET_PDEATHSIG, "kill")
	b.ArgEq(1, uint64(unix.SIGKILL), "kill")
	b.Ret(bpf.RetAllow)

	// From the thread-creation instruction.
	b.Label("clone_ip")
	b.NrIs(unix.SYS_CLONE, "kill")
	b.ArgEq(0, threadCloneFlags, "kill")
	b.ArgEq(1, 0, "kill")
	b.Ret(bpf.RetAllow)

	b.Label("allow")
	b.Ret(bpf.RetAllow)
	b.Label("kill")
	b.Ret(bpf.RetKillProcess)

	return b.AssembleSock()
}
