//go:build linux && amd64

package gofer

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	seccompSetModeFilter   = 1
	seccompFilterFlagTSync = 1
)

// installFilterTSync loads prog with seccomp(SECCOMP_SET_MODE_FILTER,
// SECCOMP_FILTER_FLAG_TSYNC).
func installFilterTSync(prog []unix.SockFilter) error {
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
