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
//
// Each AllThreadsSyscall stops the world and waits until every thread of
// the process has run the call: on a loaded host one costs about a
// scheduling delay per thread, and 44 of them were most of the sandbox's
// start-up (issue 6). So only the calls that change something are made:
// every thread has the same credentials (each was cloned from another
// with the sets the process was exec'd with, and nothing before the
// fence changes them on one thread only), so this thread's bounding and
// ambient sets say which drops are needed. The starter (runsc create)
// execs the sandbox with a bounding set of a few capabilities only
// (runsc/cmd: sandboxBootCaps), which leaves a handful of calls.
func dropCapabilities() error {
	// Up to the kernel's last capability (PR_CAPBSET_READ says EINVAL
	// past it), which may be newer than unix.CAP_LAST_CAP.
	for c := uintptr(0); c < 64; c++ {
		in, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, c, 0)
		if e == unix.EINVAL {
			break
		}
		if e != 0 {
			return e
		}
		if in == 0 {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); e != 0 {
			return e
		}
	}
	// capset below empties the ambient set too (the kernel keeps only
	// the ambient capabilities that stay both permitted and
	// inheritable); clearing it explicitly costs a round only when this
	// thread has one (a sandbox in a user namespace).
	if hasAmbient() {
		if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != unix.EINVAL {
			return e
		}
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

// hasAmbient says whether the calling thread has an ambient capability
// (a kernel without ambient capabilities has none).
func hasAmbient() bool {
	for c := uintptr(0); c < 64; c++ {
		r, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, c, 0, 0, 0)
		if e != 0 {
			return false
		}
		if r != 0 {
			return true
		}
	}
	return false
}
