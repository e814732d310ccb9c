package gofer

import (
	"golang.org/x/sys/unix"

	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// Hard links. A host file that several names reach is one inode in the
// sandbox, as on Linux: the VFS keys inotify watches and file locks by
// vfs.Inode, and fstat, nlink and the page cache follow. Filesystem.nodes
// maps each live non-directory (by host device and inode number) to its
// inode; a lookup, create or link that reaches a file already there
// returns that inode with one more dentry reference (drefs), and the
// inode is released when its last dentry dies.
//
// The gofer reaches a non-directory by parent and name, so each name has
// its own fid (nameRef). The inode's fid, used for the operations on the
// file itself (stat, open, setstat, xattrs), is its first name's; when
// that name goes (unlink, renamed over) the next one takes over. A file
// whose last name went keeps the fid it had (the gofer can no longer reach
// it by name; its donated host descriptors still work) and leaves nodes,
// so that a new host file that reuses the inode number is not taken for
// it.

// nameRef is one name of a node and the fid that the gofer gave for it.
type nameRef struct {
	parent *inode
	name   string
	fid    uint64
}

// sharedInode returns the live inode of the non-directory st with one
// more dentry reference and (parent, name, fid) among its names, or nil
// if the file has none yet. The caller's reference on st is dropped when
// the inode already holds one.
func (fs *Filesystem) sharedInode(st *fileState, fid uint64, parent *inode, name string) *inode {
	if st.ftype == unix.S_IFDIR {
		return nil
	}
	fs.mu.Lock()
	i := fs.nodes[st.key]
	if i == nil || i.st != st {
		fs.mu.Unlock()
		return nil
	}
	i.drefs++
	fs.mu.Unlock()
	fs.putState(st) // i holds st
	i.addName(parent, name, fid)
	return i
}

// register enters a new inode (one dentry reference) in the identity map
// if it is a non-directory.
func (fs *Filesystem) register(i *inode) {
	fs.mu.Lock()
	i.drefs = 1
	if i.st.ftype != unix.S_IFDIR && !i.isRoot {
		if fs.nodes == nil {
			fs.nodes = make(map[fileKey]*inode)
		}
		fs.nodes[i.st.key] = i
	}
	fs.mu.Unlock()
}

// releaseDentry drops one dentry reference and reports whether it was the
// last (the inode is then out of the identity map).
func (i *inode) releaseDentry() bool {
	fs := i.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	i.drefs--
	if i.drefs > 0 {
		return false
	}
	if fs.nodes[i.st.key] == i {
		delete(fs.nodes, i.st.key)
	}
	return true
}

// addName notes that name in parent reaches the node through fid. A name
// already known takes the new fid (its dentry was dropped and looked up
// again).
func (i *inode) addName(parent *inode, name string, fid uint64) {
	var stale []uint64
	i.mu.Lock()
	found := false
	for k := range i.names {
		n := &i.names[k]
		if n.parent == parent && n.name == name {
			if n.fid != fid {
				if i.fid.Load() == n.fid {
					i.fid.Store(fid)
				}
				stale = i.retireFIDLocked(n.fid)
				n.fid = fid
			}
			found = true
			break
		}
	}
	if !found {
		i.names = append(i.names, nameRef{parent: parent, name: name, fid: fid})
		if len(i.names) == 1 && i.parent == nil {
			i.parent, i.name = parent, name
		}
	}
	i.mu.Unlock()
	i.clunkAll(stale)
}

// dropName forgets name in parent (unlinked, or renamed over). The next
// name, if any, becomes the one the node's fid goes through; a node left
// without names leaves the identity map.
func (i *inode) dropName(parent *inode, name string) {
	var stale []uint64
	i.mu.Lock()
	for k := range i.names {
		n := i.names[k]
		if n.parent != parent || n.name != name {
			continue
		}
		i.names = append(i.names[:k], i.names[k+1:]...)
		if i.fid.Load() == n.fid && len(i.names) > 0 {
			p := i.names[0]
			i.fid.Store(p.fid)
			i.parent, i.name = p.parent, p.name
			stale = i.retireFIDLocked(n.fid)
		} else if i.fid.Load() != n.fid {
			stale = i.retireFIDLocked(n.fid)
		}
		break
	}
	gone := len(i.names) == 0
	i.mu.Unlock()
	i.clunkAll(stale)
	if gone {
		i.fs.mu.Lock()
		if i.fs.nodes[i.st.key] == i {
			delete(i.fs.nodes, i.st.key)
		}
		i.fs.mu.Unlock()
	}
}

// moved gives the node the fid r of its new name in newParent (it was
// oldName in oldParent). r is nil, or names another file, if someone else
// took the name at once (shared mode): the node then keeps its fid.
func (i *inode) moved(r *gproto.WalkResult, oldParent *inode, oldName string, newParent *inode, newName string) {
	if r != nil && (r.Attr.Ino != i.st.key.ino || r.Attr.Dev != i.st.key.dev) {
		i.fs.c.Clunk(r.FID)
		r = nil
	}
	var stale []uint64
	i.mu.Lock()
	k := -1
	for j := range i.names {
		if i.names[j].parent == oldParent && i.names[j].name == oldName {
			k = j
			break
		}
	}
	if k < 0 {
		i.names = append(i.names, nameRef{parent: oldParent, name: oldName, fid: i.fid.Load()})
		k = len(i.names) - 1
	}
	n := &i.names[k]
	primary := n.fid == i.fid.Load()
	n.parent, n.name = newParent, newName
	if r != nil {
		if primary {
			i.fid.Store(r.FID)
		}
		stale = i.retireFIDLocked(n.fid)
		n.fid = r.FID
	}
	if primary {
		i.parent, i.name = newParent, newName
	}
	i.mu.Unlock()
	i.clunkAll(stale)
	i.markStale()
}

// retireFIDLocked keeps fid, which a concurrent call may still use, to be
// clunked at Release, and returns the fids replaced long ago that no call
// can still use (to clunk now). i.mu is held.
func (i *inode) retireFIDLocked(fid uint64) []uint64 {
	i.oldFIDs = append(i.oldFIDs, fid)
	if len(i.oldFIDs) <= maxOldFIDs {
		return nil
	}
	n := len(i.oldFIDs) - maxOldFIDs
	stale := append([]uint64(nil), i.oldFIDs[:n]...)
	i.oldFIDs = append(i.oldFIDs[:0], i.oldFIDs[n:]...)
	return stale
}

// maxOldFIDs bounds the fids a node keeps after renames.
const maxOldFIDs = 4

func (i *inode) clunkAll(fids []uint64) {
	for _, fid := range fids {
		i.fs.c.Clunk(fid)
	}
}

// releaseFIDs clunks every fid the node holds (its last dentry died), in
// batches: nothing uses them again.
func (i *inode) releaseFIDs() {
	i.mu.Lock()
	fids := i.oldFIDs
	i.oldFIDs = nil
	cur := i.fid.Load()
	for _, n := range i.names {
		if n.fid != cur {
			fids = append(fids, n.fid)
		}
	}
	i.names = nil
	i.parent = nil
	i.mu.Unlock()
	if !i.isRoot {
		i.fs.c.ClunkLater(cur)
	}
	for _, fid := range fids {
		i.fs.c.ClunkLater(fid)
	}
}
