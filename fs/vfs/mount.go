package vfs

import (
	"sort"

	"golang.org/x/sys/unix"
)

// This file holds the mount operations an application may ask for with
// mount(2) and umount2(2): bind mounts, remounts and lazy unmounts. The
// syscall layer checks CAP_SYS_ADMIN; these check the tree.

// IsMountRoot reports whether vd is the root of its mount.
func (vd VirtualDentry) IsMountRoot() bool { return vd.dentry == vd.mount.root }

// BindMount mounts what source names on target (MS_BIND): a new mount of
// source's filesystem whose root is source's dentry. With recursive
// (MS_REC), the mounts below source are copied too.
func (vfs *VirtualFilesystem) BindMount(source, target VirtualDentry, recursive bool, opts MountOptions) error {
	if source.dentry.IsDir() != target.dentry.IsDir() {
		if target.dentry.IsDir() {
			return unix.ENOTDIR
		}
		return unix.ENOTDIR
	}
	if source.dentry.IsDeleted() || target.dentry.IsDeleted() {
		return unix.ENOENT
	}
	if source.mount.unbindable.Load() {
		return unix.EINVAL
	}
	// The mounts to copy are those before the new one is attached: a
	// recursive bind of a tree onto a point inside it (mount --rbind /
	// /target) copies the tree once, not itself forever (Linux's
	// copy_tree also copies first).
	var tree []mountTree
	if recursive && source.dentry.IsDir() {
		tree = vfs.submountTree(source.mount, source.dentry)
	}
	m := vfs.cloneMount(source.mount, source.dentry, opts)
	if err := vfs.attach(m, target); err != nil {
		m.root.decRef()
		return err
	}
	vfs.attachTree(tree, m)
	return nil
}

// cloneMount returns a detached mount of src's filesystem rooted at root.
func (vfs *VirtualFilesystem) cloneMount(src *Mount, root *Dentry, opts MountOptions) *Mount {
	if opts.Source == "" && opts.Type == "" {
		// A bind mount describes itself as its source does.
		opts.Source, opts.Type, opts.Data = src.source, src.fstype, src.data
	}
	if opts.FSRoot == "" {
		opts.FSRoot = src.fsroot
	}
	root.IncRef()
	m := &Mount{vfs: vfs, fs: src.fs, root: root, id: vfs.nextMountID.Add(1), source: opts.Source, fstype: opts.Type, data: opts.Data, fsroot: opts.FSRoot}
	m.flags.Store(opts.bits())
	return m
}

// attach mounts the detached m on target.
func (vfs *VirtualFilesystem) attach(m *Mount, target VirtualDentry) error {
	target.dentry.IncRef()
	vfs.mountMu.Lock()
	defer vfs.mountMu.Unlock()
	key := mountKey{target.mount, target.dentry}
	if _, ok := vfs.mounts[key]; ok {
		target.dentry.decRef()
		return unix.EBUSY
	}
	m.parent, m.point = target.mount, target.dentry
	vfs.mounts[key] = m
	target.dentry.mounts.Add(1)
	return nil
}

// isBelow reports whether d is root or one of its descendants.
func (vfs *VirtualFilesystem) isBelow(d, root *Dentry) bool {
	vfs.renameMu.RLock()
	defer vfs.renameMu.RUnlock()
	for ; d != nil; d = d.parent {
		if d == root {
			return true
		}
	}
	return false
}

// mountTree is a mount and the mounts below it, as submountTree found
// them.
type mountTree struct {
	m    *Mount
	kids []mountTree
}

// submountTree returns the mounts on src below srcRoot, recursively, in
// mount order.
func (vfs *VirtualFilesystem) submountTree(src *Mount, srcRoot *Dentry) []mountTree {
	vfs.mountMu.RLock()
	var kids []*Mount
	for k, c := range vfs.mounts {
		if k.parent == src {
			kids = append(kids, c)
		}
	}
	vfs.mountMu.RUnlock()
	sort.Slice(kids, func(i, j int) bool { return kids[i].id < kids[j].id })
	var out []mountTree
	for _, c := range kids {
		if c.unbindable.Load() || !vfs.isBelow(c.point, srcRoot) {
			continue
		}
		out = append(out, mountTree{m: c, kids: vfs.submountTree(c, c.root)})
	}
	return out
}

// attachTree replicates tree (mounts on a mount of dst's filesystem) onto
// dst, keeping each one's flags.
func (vfs *VirtualFilesystem) attachTree(tree []mountTree, dst *Mount) {
	for _, t := range tree {
		n := vfs.cloneMount(t.m, t.m.root, t.m.Options())
		if err := vfs.attach(n, VirtualDentry{dst, t.m.point}); err != nil {
			n.root.decRef()
			continue
		}
		vfs.attachTree(t.kids, n)
	}
}

// Remount changes the flags of the mount whose root is vd (EINVAL if vd is
// not a mount's root).
func (vfs *VirtualFilesystem) Remount(vd VirtualDentry, opts MountOptions) error {
	if !vd.IsMountRoot() {
		return unix.EINVAL
	}
	vd.mount.flags.Store(opts.bits())
	return nil
}

// UmountFlags implements umount2(2) on the mount whose root is vd: EINVAL
// if vd is not one (or is the tree's root). Without detach, a mount that
// has mounts below it is EBUSY; with detach (MNT_DETACH) the whole subtree
// is detached at once. Open files keep detached filesystems alive.
func (vfs *VirtualFilesystem) UmountFlags(vd VirtualDentry, detach bool) error {
	m := vd.mount
	if !vd.IsMountRoot() {
		return unix.EINVAL
	}
	vfs.mountMu.Lock()
	if m.parent == nil {
		vfs.mountMu.Unlock()
		return unix.EINVAL
	}
	var points []*Dentry
	detached := []*Mount{m}
	if !detach {
		if m.users.Load() != 0 {
			vfs.mountMu.Unlock()
			return unix.EBUSY
		}
		for k := range vfs.mounts {
			if k.parent == m {
				vfs.mountMu.Unlock()
				return unix.EBUSY
			}
		}
	} else {
		// Detach every mount below m, deepest last.
		todo := []*Mount{m}
		for len(todo) > 0 {
			p := todo[0]
			todo = todo[1:]
			for k, c := range vfs.mounts {
				if k.parent == p {
					todo = append(todo, c)
					delete(vfs.mounts, k)
					k.point.mounts.Add(-1)
					points = append(points, k.point)
					detached = append(detached, c)
					c.parent, c.point = nil, nil
				}
			}
		}
	}
	point := m.point
	delete(vfs.mounts, mountKey{m.parent, point})
	point.mounts.Add(-1)
	m.parent, m.point = nil, nil
	vfs.mountMu.Unlock()
	vfs.notifyUnmounted(detached...)
	point.decRef()
	for _, p := range points {
		p.decRef()
	}
	return nil
}

// NewDisconnectedMount returns a reference to the root of a new mount of fs
// that is not attached to the tree (Linux's kern_mount: memfd files live on
// one).
func (vfs *VirtualFilesystem) NewDisconnectedMount(fs Filesystem, opts MountOptions) (VirtualDentry, error) {
	m, err := vfs.newMount(fs, opts)
	if err != nil {
		return VirtualDentry{}, err
	}
	return VirtualDentry{m, m.root}, nil
}
