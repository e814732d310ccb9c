//go:build linux && amd64

package fence

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropCapabilities empties the bounding, effective, permitted,
// inheritable and ambient sets and sets no_new_privs, on every thread of
// the process (credentials are per thread; AllThreadsSyscall needs a
// binary without cgo, which runsc is).
//
// The running sentry needs no capability: it traces, signals and
// re-schedules only its own stubs, which are forked after Apply from the
// same uid with the same (empty) sets, so ptrace's access check (same
// uid, dumpable, tracee's permitted set a subset of the tracer's) holds
// without CAP_SYS_PTRACE; it opens no file and sets no host limit.
func dropCapabilities() error {
	for c := uintptr(0); c <= unix.CAP_LAST_CAP; c++ {
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); e != 0 && e != unix.EINVAL {
			return e
		}
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != unix.EINVAL {
		return e
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return e
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}
