//go:build linux

package bpf

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// SockFilters converts a program to the host's struct sock_filter slice.
func SockFilters(insns []Instruction) []unix.SockFilter {
	out := make([]unix.SockFilter, len(insns))
	for i, in := range insns {
		out[i] = unix.SockFilter{Code: in.Code, Jt: in.JT, Jf: in.JF, K: in.K}
	}
	return out
}

const (
	seccompSetModeFilter   = 1
	seccompFilterFlagTSync = 1
)

// InstallSeccompTSync loads prog on the host with
// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC): every thread
// of the process gets it. The caller must have set no_new_privs (or hold
// CAP_SYS_ADMIN). If another thread cannot take the filter, the error is
// EAGAIN and no thread has it.
func InstallSeccompTSync(prog []unix.SockFilter) error {
	if len(prog) == 0 {
		return unix.EINVAL
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, seccompSetModeFilter, seccompFilterFlagTSync, uintptr(unsafe.Pointer(&fp)))
	if e != 0 {
		return e
	}
	if r != 0 {
		// TSYNC failed for the thread whose id is r.
		return unix.EAGAIN
	}
	return nil
}

// AssembleSock assembles b's program for the host's seccomp(2): what
// every host filter builder does last.
func (b *Assembler) AssembleSock() ([]unix.SockFilter, error) {
	prog, err := b.Assemble()
	if err != nil {
		return nil, err
	}
	return SockFilters(prog), nil
}
