//go:build linux && amd64

package systrap

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// This file builds the stubs' two seccomp filters, classic BPF over struct
// seccomp_data.
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
// handler needs (futex, rt_sigreturn, exit, each from its instruction) and
// traps everything else. Filters stack and the stricter action wins, so an
// application that jumps into the stub image can neither run the server
// thread's syscalls (mmap of the memory file, clone: trapped) nor anything
// outside the process filter's list (killed).

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
	seccompRetTrap        = 0x00030000
	seccompRetAllow       = 0x7fff0000
)

// bpfInsn is an instruction whose jump targets may still be labels.
type bpfInsn struct {
	unix.SockFilter
	jt, jf string
}

// bpfBuilder assembles a classic BPF program with forward jumps to labels.
type bpfBuilder struct {
	insns  []bpfInsn
	labels map[string]int
}

func (b *bpfBuilder) emit(i bpfInsn) { b.insns = append(b.insns, i) }

func (b *bpfBuilder) label(name string) {
	if b.labels == nil {
		b.labels = make(map[string]int)
	}
	b.labels[name] = len(b.insns)
}

func (b *bpfBuilder) loadAbs(off uint32) {
	b.emit(bpfInsn{SockFilter: unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}})
}

// jeq jumps to jt if A == k, else to jf ("" is the next instruction).
func (b *bpfBuilder) jeq(k uint32, jt, jf string) {
	b.emit(bpfInsn{SockFilter: unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k}, jt: jt, jf: jf})
}

func (b *bpfBuilder) ret(k uint32) {
	b.emit(bpfInsn{SockFilter: unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}})
}

// argEq emits "if args[i] != v goto fail" for a 64-bit v.
func (b *bpfBuilder) argEq(i int, v uint64, fail string) {
	b.loadAbs(seccompDataArgs + 8*uint32(i))
	b.jeq(uint32(v), "", fail)
	b.loadAbs(seccompDataArgs + 8*uint32(i) + 4)
	b.jeq(uint32(v>>32), "", fail)
}

// nrIs emits "if nr != v goto fail".
func (b *bpfBuilder) nrIs(nr uint32, fail string) {
	b.loadAbs(seccompDataNr)
	b.jeq(nr, "", fail)
}

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

// ipAfter is the instruction pointer seccomp reports for the syscall
// instruction at offset off of the image (the address after it).
func ipAfter(base uint64, off uint64) uint32 { return uint32(base + off + 2) }

// processFilter returns the filter of every stub process.
func processFilter(base uint64, memFD, sharedFD int) ([]unix.SockFilter, error) {
	var b bpfBuilder
	b.loadAbs(seccompDataArch)
	b.jeq(auditArchX86_64, "", "kill")
	b.loadAbs(seccompDataIPHigh)
	// The image and the regions share the high half; application code,
	// below maxUserAddress, never does.
	b.jeq(uint32((base+2)>>32), "", "trap")
	b.loadAbs(seccompDataIPLow)
	b.jeq(ipAfter(base, offHandlerWake), "futex", "")
	b.jeq(ipAfter(base, offHandlerWait), "futex", "")
	b.jeq(ipAfter(base, offServerWait), "futex", "")
	b.jeq(ipAfter(base, offServerWake), "futex", "")
	b.jeq(ipAfter(base, offHandlerSigreturn), "sigreturn", "")
	b.jeq(ipAfter(base, offHandlerExit), "exit", "")
	b.jeq(ipAfter(base, offServerSyscall), "server", "")
	b.jeq(ipAfter(base, offForkPrctl), "prctl", "")
	b.jeq(ipAfter(base, offForkMmapRw), "sharedmmap", "")
	b.jeq(ipAfter(base, offForkMmapRo), "sharedmmap", "")
	b.jeq(ipAfter(base, offForkMmapPtr), "sharedmmap", "")
	b.jeq(ipAfter(base, offThreadSigaltstack), "sigaltstack", "")
	b.jeq(ipAfter(base, offThreadSigprocmask), "sigprocmask", "")
	b.jeq(ipAfter(base, offThreadSeccomp), "seccomp", "")
	b.jeq(ipAfter(base, offInjectSyscall), "inject", "kill")

	b.label("futex")
	b.nrIs(unix.SYS_FUTEX, "kill")
	b.loadAbs(seccompDataArgs + 8)
	b.jeq(futexWaitOp, "allow", "")
	b.jeq(futexWakeOp, "allow", "kill")

	b.label("sigreturn")
	b.nrIs(unix.SYS_RT_SIGRETURN, "kill")
	b.ret(seccompRetAllow)

	b.label("exit")
	b.nrIs(unix.SYS_EXIT, "kill")
	b.ret(seccompRetAllow)

	b.label("server")
	b.loadAbs(seccompDataNr)
	b.jeq(unix.SYS_MMAP, "", "server_munmap")
	b.argEq(3, unix.MAP_SHARED|unix.MAP_FIXED, "kill")
	b.argEq(4, uint64(memFD), "kill")
	b.ret(seccompRetAllow)
	b.label("server_munmap")
	b.jeq(unix.SYS_MUNMAP, "allow", "")
	b.jeq(unix.SYS_CLONE, "", "kill")
	b.argEq(1, 0, "kill") // no new stack
	b.loadAbs(seccompDataArgs + 4)
	b.jeq(0, "", "kill")
	b.loadAbs(seccompDataArgs)
	b.jeq(uint32(threadFlags), "allow", "")
	b.jeq(uint32(forkFlags), "allow", "kill")

	b.label("prctl")
	b.nrIs(unix.SYS_PRCTL, "kill")
	b.argEq(0, unix.PR_SET_PDEATHSIG, "kill")
	b.argEq(1, uint64(unix.SIGKILL), "kill")
	b.ret(seccompRetAllow)

	b.label("sharedmmap")
	b.nrIs(unix.SYS_MMAP, "kill")
	b.argEq(3, unix.MAP_SHARED|unix.MAP_FIXED, "kill")
	b.argEq(4, uint64(sharedFD), "kill")
	b.ret(seccompRetAllow)

	b.label("sigaltstack")
	b.nrIs(unix.SYS_SIGALTSTACK, "kill")
	b.ret(seccompRetAllow)

	b.label("sigprocmask")
	b.nrIs(unix.SYS_RT_SIGPROCMASK, "kill")
	b.ret(seccompRetAllow)

	b.label("seccomp")
	b.nrIs(unix.SYS_SECCOMP, "kill")
	b.ret(seccompRetAllow)

	// The injection point is used only while the pre-made stub is set
	// up; its last step, after this filter, unmaps the sentry's copy.
	b.label("inject")
	b.nrIs(unix.SYS_MUNMAP, "kill")
	b.ret(seccompRetAllow)

	b.label("allow")
	b.ret(seccompRetAllow)
	b.label("trap")
	b.ret(seccompRetTrap)
	b.label("kill")
	b.ret(seccompRetKillProcess)
	return b.assemble()
}

// threadFilter returns the filter every application thread adds.
func threadFilter(base uint64) ([]unix.SockFilter, error) {
	var b bpfBuilder
	b.loadAbs(seccompDataArch)
	b.jeq(auditArchX86_64, "", "kill")
	b.loadAbs(seccompDataIPHigh)
	b.jeq(uint32((base+2)>>32), "", "trap")
	b.loadAbs(seccompDataIPLow)
	b.jeq(ipAfter(base, offHandlerWake), "futex", "")
	b.jeq(ipAfter(base, offHandlerWait), "futex", "")
	b.jeq(ipAfter(base, offHandlerSigreturn), "sigreturn", "")
	b.jeq(ipAfter(base, offHandlerExit), "exit", "trap")

	b.label("futex")
	b.nrIs(unix.SYS_FUTEX, "trap")
	b.ret(seccompRetAllow)
	b.label("sigreturn")
	b.nrIs(unix.SYS_RT_SIGRETURN, "trap")
	b.ret(seccompRetAllow)
	b.label("exit")
	b.nrIs(unix.SYS_EXIT, "trap")
	b.ret(seccompRetAllow)

	b.label("trap")
	b.ret(seccompRetTrap)
	b.label("kill")
	b.ret(seccompRetKillProcess)
	return b.assemble()
}
