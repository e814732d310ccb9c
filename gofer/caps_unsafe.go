//go:build linux

package gofer

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KeepCapabilities are the capabilities the gofer keeps: what it needs to
// reach and make files whatever their owner and mode (the sentry applies
// the container's permission checks itself). CAP_DAC_READ_SEARCH also
// lets linkat(AT_EMPTY_PATH) name an O_TMPFILE file; CAP_SYS_ADMIN is for
// the host's trusted.rampart.* attributes only (device placeholders, the
// sandbox's trusted.* and security.*: placeholder.go), the seccomp
// allow-list leaving it nothing else to reach (no mount, ioctl, setns,
// bpf or the like).
var KeepCapabilities = []uint{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER, unix.CAP_FSETID,
	unix.CAP_SYS_ADMIN,
}

// DropCapabilities removes every capability but KeepCapabilities from the
// bounding, effective, permitted and inheritable sets of every thread of
// the process. The binary must not use cgo (it uses AllThreadsSyscall).
func DropCapabilities() error {
	var keep uint64
	for _, c := range KeepCapabilities {
		keep |= 1 << c
	}
	for c := uintptr(0); c <= unix.CAP_LAST_CAP; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		// Every thread has this thread's bounding set: skip the
		// stop-the-world round of a capability already gone (runsc
		// create starts the gofer with few: issue 6).
		if in, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, c, 0); e == 0 && in == 0 {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); e != 0 && e != unix.EINVAL {
			return e
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for i := range data {
		k := uint32(keep >> (32 * i))
		data[i].Effective &= k
		data[i].Permitted &= k
		data[i].Inheritable = 0
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return e
	}
	return nil
}
