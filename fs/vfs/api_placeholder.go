package vfs

// PLACEHOLDER: the VFS owner replaces this file with the implementation.
// The kernel compiles against exactly these names:
//   VirtualFilesystem, FDTable, FSContext, Context,
//   (*FDTable).CloseAll(ctx Context), (*FSContext).Release().

import "github.com/rampart-sandbox/rampart/sentry/kernel/auth"

// Context is what the VFS needs from the calling task. kernel.Task
// implements it.
type Context interface {
	Credentials() *auth.Credentials
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// VirtualFilesystem is the sandbox's mount tree.
type VirtualFilesystem struct{}

// FDTable is a process' descriptor table.
type FDTable struct{}

// CloseAll closes every descriptor (at exit).
func (t *FDTable) CloseAll(ctx Context) {}

// FSContext is a task's root, working directory and umask.
type FSContext struct{}

// Release drops the references on root and cwd.
func (f *FSContext) Release() {}
