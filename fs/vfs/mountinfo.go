package vfs

import (
	"path"
	"sort"
)

// MountInfo describes one visible mount, for /proc/[pid]/mounts and
// mountinfo.
type MountInfo struct {
	ID, ParentID uint64
	// Filesystem is the mounted filesystem (Name is its type).
	Filesystem Filesystem
	// Point is the mount point's path as seen from the root passed to
	// Mounts.
	Point    string
	ReadOnly bool
	// Options are the mount's flags and descriptions.
	Options MountOptions
	// Source, Type and Data are the mount's descriptions (see
	// MountOptions); empty means the filesystem's defaults.
	Source, Type, Data string
	// Root is the mount's root, for the device number (Stat.Dev). The
	// reference is borrowed: it is valid while the mount is.
	Root VirtualDentry
	// FSRoot is the path of the mount's root within its filesystem:
	// "/" but for bind mounts of a subtree (mountinfo's fourth field),
	// below MountOptions.FSRoot if the mount's creator gave one.
	FSRoot string
}

// Mounts lists the mounts of root's tree in mount order (by id),
// starting with root's own mount. A mount completely covered by another
// one mounted on its root is left out, as it can never be reached; its
// covering mount reports the covered mount's parent.
func (vfs *VirtualFilesystem) Mounts(root VirtualDentry) []MountInfo {
	vfs.mountMu.RLock()
	// Only the tree root is in: a pod's containers each have their own,
	// whose top is a disconnected mount (runsc/boot/container.go).
	top := func(m *Mount) *Mount {
		for m != nil && m.parent != nil {
			m = m.parent
		}
		return m
	}
	tree := vfs.root.mount
	if root.mount != nil {
		tree = top(root.mount)
	}
	all := make([]*Mount, 0, len(vfs.mounts)+1)
	if tree != nil {
		all = append(all, tree)
	}
	covered := make(map[*Mount]bool)
	for k, m := range vfs.mounts {
		if top(m) != tree {
			continue
		}
		all = append(all, m)
		if k.point == k.parent.root {
			covered[k.parent] = true
		}
	}
	parentOf := func(m *Mount) *Mount {
		p := m.parent
		for p != nil && covered[p] {
			p = p.parent
		}
		return p
	}
	var out []MountInfo
	for _, m := range all {
		if covered[m] {
			continue
		}
		mi := MountInfo{ID: m.id, Filesystem: m.fs, ReadOnly: m.ReadOnly(), Root: VirtualDentry{m, m.root},
			Options: m.Options(), Source: m.source, Type: m.fstype, Data: m.data}
		if p := parentOf(m); p != nil {
			mi.ParentID = p.id
		} else {
			mi.ParentID = m.id
		}
		out = append(out, mi)
	}
	vfs.mountMu.RUnlock()
	for i := range out {
		out[i].Point = vfs.PathnameWithin(root, out[i].Root)
		out[i].FSRoot = vfs.pathInFilesystem(out[i].Root.dentry)
		if r := out[i].Root.mount.fsroot; r != "" {
			out[i].FSRoot = path.Join(r, out[i].FSRoot)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// pathInFilesystem returns the path of d from its filesystem's root.
func (vfs *VirtualFilesystem) pathInFilesystem(d *Dentry) string {
	vfs.renameMu.RLock()
	defer vfs.renameMu.RUnlock()
	p := ""
	for ; d.parent != nil; d = d.parent {
		p = "/" + d.name + p
	}
	if p == "" {
		return "/"
	}
	return p
}
