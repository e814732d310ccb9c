package vfs

import (
	"sync"
	"sync/atomic"
)

// FSContext is a task's root, working directory and umask. Threads created
// with CLONE_FS share one (IncRef); fork copies it (Fork).
type FSContext struct {
	refs atomic.Int64

	// mu protects root, cwd and umask.
	mu    sync.Mutex
	root  VirtualDentry
	cwd   VirtualDentry
	umask uint32
}

// NewFSContext returns a context with one reference. It takes its own
// references on root and cwd.
func NewFSContext(root, cwd VirtualDentry, umask uint32) *FSContext {
	root.IncRef()
	cwd.IncRef()
	root.pin()
	cwd.pin()
	f := &FSContext{root: root, cwd: cwd, umask: umask & 0o777}
	f.refs.Store(1)
	return f
}

// IncRef takes a reference (CLONE_FS).
func (f *FSContext) IncRef() { f.refs.Add(1) }

// Release drops a reference; the last one drops root and cwd.
func (f *FSContext) Release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	f.mu.Lock()
	root, cwd := f.root, f.cwd
	f.root, f.cwd = VirtualDentry{}, VirtualDentry{}
	f.mu.Unlock()
	root.unpin()
	cwd.unpin()
	root.DecRef()
	cwd.DecRef()
}

// Fork returns an independent copy with one reference.
func (f *FSContext) Fork() *FSContext {
	f.mu.Lock()
	defer f.mu.Unlock()
	return NewFSContext(f.root, f.cwd, f.umask)
}

// Root returns a new reference to the root.
func (f *FSContext) Root() VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root.IncRef()
	return f.root
}

// Cwd returns a new reference to the working directory.
func (f *FSContext) Cwd() VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd.IncRef()
	return f.cwd
}

// RootAndCwd returns new references to both, consistently.
func (f *FSContext) RootAndCwd() (VirtualDentry, VirtualDentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root.IncRef()
	f.cwd.IncRef()
	return f.root, f.cwd
}

// SetCwd makes vd the working directory; it takes its own reference.
func (f *FSContext) SetCwd(vd VirtualDentry) {
	vd.IncRef()
	vd.pin()
	f.mu.Lock()
	old := f.cwd
	f.cwd = vd
	f.mu.Unlock()
	old.unpin()
	old.DecRef()
}

// SetRoot makes vd the root (chroot); it takes its own reference.
func (f *FSContext) SetRoot(vd VirtualDentry) {
	vd.IncRef()
	vd.pin()
	f.mu.Lock()
	old := f.root
	f.root = vd
	f.mu.Unlock()
	old.unpin()
	old.DecRef()
}

// Umask returns the umask.
func (f *FSContext) Umask() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.umask
}

// SwapUmask sets the umask and returns the old one.
func (f *FSContext) SwapUmask(mask uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = mask & 0o777
	return old
}
