//go:build linux && amd64

package ptrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// This file builds the stub's seccomp filter: a classic BPF program over
// struct seccomp_data, assembled by a tiny builder with symbolic labels.
//
// Application syscalls never reach the filter: PTRACE_SYSEMU reports them at
// syscall entry and skips them before seccomp runs. The filter therefore only
// sees the syscalls the platform injects, and it allows exactly those, with
// the arguments the platform uses, from the stub's own syscall instructions.
// Anything else kills the whole stub process (SECCOMP_RET_KILL_PROCESS), so a
// tracee that escapes its tracer cannot turn into a host syscall.

// Offsets in struct seccomp_data (include/uapi/linux/seccomp.h).
const (
	seccompDataNr     = 0
	seccompDataArch   = 4
	seccompDataIPLow  = 8
	seccompDataIPHigh = 12
	seccompDataArgs   = 16
)

const (
	auditArchX86_64 = 0xc000003e

	seccompRetKillProcess = 0x80000000
	seccompRetAllow       = 0x7fff0000
)

// bpfInsn is one instruction of a program under construction: a classic BPF
// instruction whose jump targets may still be symbolic.
type bpfInsn struct {
	unix.SockFilter
	jt, jf string // labels of conditional jump targets; "" means "next"
	label  string // label attached to this instruction, if any
}

// bpfBuilder assembles a classic BPF program with forward jumps to labels.
type bpfBuilder struct {
	insns  []bpfInsn
	labels map[string]int
	next   string // label to attach to the next emitted instruction
}

func (b *bpfBuilder) emit(i bpfInsn) {
	if b.next != "" {
		if b.labels == nil {
			b.labels = make(map[string]int)
		}
		b.labels[b.next] = len(b.insns)
		b.next = ""
	}
	b.insns = append(b.insns, i)
}

// label names the next instruction.
func (b *bpfBuilder) label(name string) { b.next = name }

// loadAbs loads the 32-bit word at off in seccomp_data into A.
func (b *bpfBuilder) loadAbs(off uint32) {
	b.emit(bpfInsn{SockFilter: unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}})
}

// jeq jumps to jt if A == k, else to jf ("" is the next instruction).
func (b *bpfBuilder) jeq(k uint32, jt, jf string) {
	b.emit(bpfInsn{SockFilter: unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k}, jt: jt, jf: jf})
}

// ret returns k.
func (b *bpfBuilder) ret(k uint32) {
	b.emit(bpfInsn{SockFilter: unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}})
}

// assemble resolves labels. Only forward jumps of at most 255 instructions
// exist in classic BPF.
func (b *bpfBuilder) assemble() ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, len(b.insns))
	resolve := func(pc int, l string) (uint8, error) {
		if l == "" {
			return 0, nil
		}
		t, ok := b.labels[l]
		if !ok {
			return 0, fmt.Errorf("bpf: undefined label %q", l)
		}
		d := t - pc - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("bpf: jump from %d to %q (%d) out of range", pc, l, t)
		}
		return uint8(d), nil
	}
	for pc, i := range b.insns {
		var err error
		out[pc] = i.SockFilter
		if out[pc].Jt, err = resolve(pc, i.jt); err != nil {
			return nil, err
		}
		if out[pc].Jf, err = resolve(pc, i.jf); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// argLow and argHigh are the offsets of the halves of syscall argument i.
func argLow(i int) uint32  { return seccompDataArgs + 8*uint32(i) }
func argHigh(i int) uint32 { return seccompDataArgs + 8*uint32(i) + 4 }

// argEq emits "if args[i] != v goto kill" for a 64-bit v.
func (b *bpfBuilder) argEq(i int, v uint64) {
	b.loadAbs(argLow(i))
	b.jeq(uint32(v), "", "kill")
	b.loadAbs(argHigh(i))
	b.jeq(uint32(v>>32), "", "kill")
}

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
	var b bpfBuilder

	b.loadAbs(seccompDataArch)
	b.jeq(auditArchX86_64, "", "kill")
	b.loadAbs(seccompDataIPHigh)
	b.jeq(uint32(injectIP>>32), "", "kill") // both IPs share the page, so the high half
	b.loadAbs(seccompDataIPLow)
	b.jeq(uint32(cloneIP), "clone_ip", "")
	b.jeq(uint32(injectIP), "", "kill")

	// From the injection instruction.
	b.loadAbs(seccompDataNr)
	b.jeq(unix.SYS_MMAP, "mmap", "")
	b.jeq(unix.SYS_MUNMAP, "allow", "")
	b.jeq(unix.SYS_CLONE, "fork", "")
	b.jeq(unix.SYS_PRCTL, "prctl", "")
	b.jeq(unix.SYS_EXIT, "allow", "kill")

	b.label("mmap")
	b.argEq(3, unix.MAP_SHARED|unix.MAP_FIXED)
	b.argEq(4, uint64(memFD))
	b.ret(seccompRetAllow)

	b.label("fork")
	b.argEq(0, forkCloneFlags)
	b.argEq(1, 0)
	b.ret(seccompRetAllow)

	b.label("prctl")
	b.argEq(0, unix.PR_SET_PDEATHSIG)
	b.argEq(1, uint64(unix.SIGKILL))
	b.ret(seccompRetAllow)

	// From the thread-creation instruction.
	b.label("clone_ip")
	b.loadAbs(seccompDataNr)
	b.jeq(unix.SYS_CLONE, "", "kill")
	b.argEq(0, threadCloneFlags)
	b.argEq(1, 0)
	b.ret(seccompRetAllow)

	b.label("allow")
	b.ret(seccompRetAllow)
	b.label("kill")
	b.ret(seccompRetKillProcess)

	return b.assemble()
}
