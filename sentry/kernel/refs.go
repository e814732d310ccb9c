package kernel

import (
	"sync/atomic"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// FDTableRef is a descriptor table shared by the tasks cloned with
// CLONE_FILES. The last user closes every descriptor.
type FDTableRef struct {
	*vfs.FDTable
	users atomic.Int32
}

// NewFDTableRef wraps t with one user.
func NewFDTableRef(t *vfs.FDTable) *FDTableRef {
	r := &FDTableRef{FDTable: t}
	r.users.Store(1)
	return r
}

func (r *FDTableRef) incRef() { r.users.Add(1) }

func (r *FDTableRef) decRef(t *Task) {
	if r.users.Add(-1) == 0 {
		r.FDTable.CloseAll(t)
	}
}

// FSContextRef is a root/cwd/umask shared by the tasks cloned with CLONE_FS.
type FSContextRef struct {
	*vfs.FSContext
	users atomic.Int32
}

// NewFSContextRef wraps f with one user.
func NewFSContextRef(f *vfs.FSContext) *FSContextRef {
	r := &FSContextRef{FSContext: f}
	r.users.Store(1)
	return r
}

func (r *FSContextRef) incRef() { r.users.Add(1) }

func (r *FSContextRef) decRef() {
	if r.users.Add(-1) == 0 {
		r.FSContext.Release()
	}
}
