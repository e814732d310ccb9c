package cmd

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction on amd64 (handler,
// flags, restorer, mask).
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

// setDefaultAction sets sig's disposition to SIG_DFL for the whole
// process, under the Go runtime, which offers no way to: signal.Reset
// gives sig back to the runtime's handler.
func setDefaultAction(sig unix.Signal) error {
	var act kernelSigaction // SIG_DFL is 0
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
