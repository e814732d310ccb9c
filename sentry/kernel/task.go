package kernel

import (
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Task is one application thread.
type Task struct {
	k *Kernel

	// regs are the application registers. Owned by the task goroutine.
	regs arch.Registers

	mm    *mm.MemoryManager
	fds   *vfs.FDTable
	fs    *vfs.FSContext
	creds *auth.Credentials

	// scratch is reused by syscalls that stage data in sentry memory, so
	// that the hot path does not allocate.
	scratch []byte
}

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// Regs returns the task's registers. Only the task goroutine may use it.
func (t *Task) Regs() *arch.Registers { return &t.regs }

// MemoryManager returns the task's address space.
func (t *Task) MemoryManager() *mm.MemoryManager { return t.mm }

// FDTable returns the task's descriptor table.
func (t *Task) FDTable() *vfs.FDTable { return t.fds }

// FSContext returns the task's root, cwd and umask.
func (t *Task) FSContext() *vfs.FSContext { return t.fs }

// Credentials returns the task's credentials (immutable; see auth).
func (t *Task) Credentials() *auth.Credentials { return t.creds }

// CopyIn copies application memory at addr into dst (EFAULT on a bad address).
func (t *Task) CopyIn(addr uint64, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut copies src into application memory at addr (EFAULT on a bad address).
func (t *Task) CopyOut(addr uint64, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// CopyInString reads a NUL-terminated string (ENAMETOOLONG past maxLen).
func (t *Task) CopyInString(addr uint64, maxLen int) (string, error) {
	return t.mm.CopyInString(addr, maxLen)
}

// Scratch returns a buffer of n bytes owned by the task, valid until the
// next call. Syscalls use it to stage data without allocating.
func (t *Task) Scratch(n int) []byte {
	if cap(t.scratch) < n {
		t.scratch = make([]byte, n)
	}
	return t.scratch[:n]
}
