// Package kernel is the heart of the sentry: the Kernel object that owns all
// sandbox-wide state, and Tasks, each a goroutine that runs one application
// thread on the platform and services its syscalls and faults.
package kernel

import (
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

// Kernel is the sandbox-wide state. There is exactly one per sandbox and no
// mutable state lives outside it.
type Kernel struct {
	// Immutable after New.
	Platform     platform.Platform
	MemoryFile   *memfile.MemoryFile
	VFS          *vfs.VirtualFilesystem
	SyscallTable *SyscallTable
}
