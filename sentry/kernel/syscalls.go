package kernel

import "github.com/rampart-sandbox/rampart/sentry/arch"

// SyscallFn implements one syscall. It returns the value for rax, or an
// error: a unix.Errno (returned to the application as -errno) or one of the
// kernel's restart errors.
//
// Handlers run on the task's goroutine and may block.
type SyscallFn func(t *Task, args arch.SyscallArguments) (uintptr, error)

// MaxSyscalls bounds syscall numbers on amd64 (the highest is in the 460s).
const MaxSyscalls = 512

// Syscall is one entry of the table.
type Syscall struct {
	// Name is the syscall's Linux name, e.g. "openat".
	Name string
	// Fn is nil for a syscall the sentry does not implement: it returns
	// ENOSYS and is logged once.
	Fn SyscallFn
}

// SyscallTable maps syscall numbers to implementations. It is built once
// before the kernel starts and is read-only afterwards.
type SyscallTable struct {
	Entries [MaxSyscalls]Syscall
}

// Register installs fn as the implementation of syscall nr.
func (st *SyscallTable) Register(nr uintptr, fn SyscallFn) {
	st.Entries[nr].Fn = fn
}

// Lookup returns the entry for nr, or nil if nr is out of range.
func (st *SyscallTable) Lookup(nr uintptr) *Syscall {
	if nr >= MaxSyscalls {
		return nil
	}
	return &st.Entries[nr]
}
