package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Process groups and sessions; the rules live in sentry/kernel/sessions.go.
func registerSession(t *kernel.SyscallTable) {
	t.Register(unix.SYS_SETPGID, setpgid)
	t.Register(unix.SYS_GETPGID, getpgid)
	t.Register(unix.SYS_GETPGRP, getpgrp)
	t.Register(unix.SYS_SETSID, setsid)
	t.Register(unix.SYS_GETSID, getsid)
}

func setpgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetProcessGroup(kernel.ThreadID(a[0].Int()), kernel.ThreadID(a[1].Int()))
}

func getpgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pgid, err := t.ProcessGroupOf(kernel.ThreadID(a[0].Int()))
	return uintptr(pgid), err
}

func getpgrp(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().PGIDIn(t.PIDNamespace())), nil
}

func setsid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	sid, err := t.NewSession()
	return uintptr(sid), err
}

func getsid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	sid, err := t.SessionOf(kernel.ThreadID(a[0].Int()))
	return uintptr(sid), err
}
