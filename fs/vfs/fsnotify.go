package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Filesystem notification (Linux's fsnotify), the part that lives in the
// VFS: a table of watched inodes and the points where operations report
// events to them. The watches themselves (inotify instances, their queues
// and descriptors) are package fs/inotify.
//
// Events follow Linux's fsnotify hooks:
//
//   - file operations (open, read, write, getdents, close) and attribute
//     changes report to the file's inode and to its parent directory, the
//     latter with the name the file was reached by;
//   - directory changes (create, link, unlink, rmdir, rename) report to the
//     directory with the child's name; a rename shares one cookie between
//     its IN_MOVED_FROM and IN_MOVED_TO;
//   - the link count changing (link, unlink, being renamed over) is
//     IN_ATTRIB to the inode itself; IN_MOVE_SELF, IN_DELETE_SELF and
//     IN_UNMOUNT go to the inode only.
//
// IN_DELETE_SELF comes when the last dentry reference to an inode without
// links goes away, so an unlinked file that is still open reports it at
// its last close, as on Linux. Watches are dropped (IN_IGNORED) then, and
// when the watched filesystem's last mount is unmounted (IN_UNMOUNT).
//
// Only what goes through the VFS is seen: the read-only host root (and any
// filesystem backed by something the sandbox does not own) reports the
// sandbox's own operations, never changes made outside it.
//
// The table belongs to the VirtualFilesystem and is keyed by Inode, like
// the file-lock table. Operations check one atomic counter first, so while
// nothing is watched the hooks cost one load and nothing else.
//
// Lock order: VirtualFilesystem.renameMu and Dentry.mu come before
// watchTable.mu, which is released before watchers are called. Watchers
// take their own locks (an inotify instance's mutex, then its WaitQueue)
// and may call AddWatch and RemoveWatch.

// EventRename is reported, before IN_MOVED_FROM, to the directory of a
// rename that stays in it (Linux's FS_RENAME as dnotify hears it, for
// DN_RENAME). It is not an inotify event: no inotify mask has its bit.
const EventRename = 0x10000000

// WatchEvent is one event as the VFS reports it to a Watcher.
type WatchEvent struct {
	// Mask is the IN_* event bits, with IN_ISDIR for a directory.
	Mask uint32
	// Cookie pairs the IN_MOVED_FROM and IN_MOVED_TO of one rename.
	Cookie uint32
	// Name is the child's name for an event reported to a directory
	// about one of its entries; empty for an event on the inode itself.
	Name string
	// Unlinked marks an event of an open file that has no name left
	// (IN_EXCL_UNLINK watches drop those).
	Unlinked bool
}

// Watcher is a watch on one inode (an inotify watch). NotifyWatch is
// called for every event on the inode, from any goroutine, with no VFS
// lock but possibly the directory locks of the operation held; it must
// not block and must not walk paths. An IN_IGNORED event means the VFS
// has dropped the watch (the inode was deleted or unmounted).
type Watcher interface {
	NotifyWatch(ev WatchEvent)
}

// inodeWatches are the watches on one inode.
type inodeWatches struct {
	// fs is the inode's filesystem, for IN_UNMOUNT.
	fs Filesystem
	// isDir gives IN_UNMOUNT its IN_ISDIR.
	isDir bool
	// list is the watchers; the slice is replaced, never changed, under
	// watchTable.mu so that events iterate it without a lock.
	list atomic.Pointer[[]Watcher]
	// dying is set once the inode has no links left: the death of its
	// last dentry then reports IN_DELETE_SELF.
	dying atomic.Bool
}

func (iw *inodeWatches) send(ev WatchEvent) {
	for _, w := range *iw.list.Load() {
		w.NotifyWatch(ev)
	}
}

// watchTable holds every watched inode of a VirtualFilesystem.
type watchTable struct {
	// n is len(m), read without mu by every hook.
	n atomic.Int32
	// mu protects m.
	mu sync.RWMutex
	m  map[Inode]*inodeWatches
}

// active reports whether any inode is watched.
func (t *watchTable) active() bool { return t.n.Load() != 0 }

func (t *watchTable) lookup(ino Inode) *inodeWatches {
	t.mu.RLock()
	iw := t.m[ino]
	t.mu.RUnlock()
	return iw
}

// watched reports whether any inode of d's tree is watched.
func (d *Dentry) watched() bool { return d.vfs != nil && d.vfs.watches.active() }

// fsnotifyActive reports whether fd's file may have watchers.
func (fd *FileDescription) fsnotifyActive() bool {
	return fd.vd.dentry != nil && fd.vd.dentry.watched()
}

// AddWatch makes w hear about the events of the inode vd names (the caller
// keeps one Watcher per inode and changes its mask itself). A node that is
// already unlinked reports IN_DELETE_SELF when its last reference goes.
func AddWatch(ctx Context, vd VirtualDentry, w Watcher) {
	d := vd.dentry
	watchTable := &d.vfs.watches
	watchTable.mu.Lock()
	iw := watchTable.m[d.inode]
	if iw == nil {
		if watchTable.m == nil {
			watchTable.m = make(map[Inode]*inodeWatches)
		}
		iw = &inodeWatches{fs: vd.mount.fs, isDir: d.IsDir()}
		iw.list.Store(&[]Watcher{w})
		watchTable.m[d.inode] = iw
		watchTable.n.Store(int32(len(watchTable.m)))
	} else {
		old := *iw.list.Load()
		l := make([]Watcher, 0, len(old)+1)
		l = append(append(l, old...), w)
		iw.list.Store(&l)
	}
	watchTable.mu.Unlock()
	if d.IsDeleted() && !iw.dying.Load() && noLinks(ctx, d) {
		iw.dying.Store(true)
	}
}

// RemoveWatch undoes AddWatch of w on ino, an inode of vfs. Removing a
// watch the VFS already dropped does nothing.
func (vfs *VirtualFilesystem) RemoveWatch(ino Inode, w Watcher) {
	watchTable := &vfs.watches
	watchTable.mu.Lock()
	defer watchTable.mu.Unlock()
	iw := watchTable.m[ino]
	if iw == nil {
		return
	}
	old := *iw.list.Load()
	l := make([]Watcher, 0, len(old))
	for _, o := range old {
		if o != w {
			l = append(l, o)
		}
	}
	if len(l) == 0 {
		delete(watchTable.m, ino)
		watchTable.n.Store(int32(len(watchTable.m)))
		return
	}
	iw.list.Store(&l)
}

// dropLocked removes ino's entry and returns it; t.mu is held.
func (t *watchTable) dropLocked(ino Inode) *inodeWatches {
	iw := t.m[ino]
	if iw != nil {
		delete(t.m, ino)
		t.n.Store(int32(len(t.m)))
	}
	return iw
}

// noLinks reports whether d's inode has no links left (a removed
// directory never has).
func noLinks(ctx Context, d *Dentry) bool {
	if d.IsDir() {
		return true
	}
	st, err := d.inode.Stat(ctx)
	return err == nil && st.Nlink == 0
}

func isDirBit(d *Dentry) uint32 {
	if d.IsDir() {
		return unix.IN_ISDIR
	}
	return 0
}

// notifyDentry reports mask to d's inode and then to its parent with d's
// name, as Linux's fsnotify_parent. unlinked marks events of an open file
// whose dentry is dead.
func (vfs *VirtualFilesystem) notifyDentry(d *Dentry, mask uint32, unlinked bool) {
	mask |= isDirBit(d)
	vfs.renameMu.RLock()
	if p := d.parent; p != nil {
		if iw := vfs.watches.lookup(p.inode); iw != nil {
			iw.send(WatchEvent{Mask: mask, Name: d.name, Unlinked: unlinked})
		}
	}
	vfs.renameMu.RUnlock()
	if iw := vfs.watches.lookup(d.inode); iw != nil {
		iw.send(WatchEvent{Mask: mask, Unlinked: unlinked})
	}
}

// notifyInode reports mask to d's inode only.
func notifyInode(d *Dentry, mask uint32) {
	if iw := d.vfs.watches.lookup(d.inode); iw != nil {
		iw.send(WatchEvent{Mask: mask | isDirBit(d)})
	}
}

// notifyChild reports mask about dir's entry name (of child) to dir.
func notifyChild(dir *Dentry, name string, child *Dentry, mask, cookie uint32) {
	if iw := dir.vfs.watches.lookup(dir.inode); iw != nil {
		iw.send(WatchEvent{Mask: mask | isDirBit(child), Cookie: cookie, Name: name})
	}
}

// notify reports mask on an open file (read, write, open, close).
func (fd *FileDescription) notify(mask uint32) {
	d := fd.vd.dentry
	if d == nil || fd.opath {
		return
	}
	fd.vd.mount.vfs.notifyDentry(d, mask, d.IsDeleted())
}

// notifyClose reports the last close of a file.
func (fd *FileDescription) notifyClose() {
	if fd.IsWritable() {
		fd.notify(unix.IN_CLOSE_WRITE)
	} else {
		fd.notify(unix.IN_CLOSE_NOWRITE)
	}
}

// notifyOpen reports an open (and, after it, the O_TRUNC that came with
// it, as Linux orders them).
func notifyOpen(fd *FileDescription, truncated bool) {
	if !fd.fsnotifyActive() {
		return
	}
	fd.notify(unix.IN_OPEN)
	if truncated {
		fd.notify(unix.IN_MODIFY)
	}
}

// notifyCreateLocked reports a new entry name of parent, whose mu is
// held.
func notifyCreateLocked(parent *Dentry, name string) {
	if !parent.watched() {
		return
	}
	if child := parent.children[name]; child != nil {
		notifyChild(parent, name, child, unix.IN_CREATE, 0)
	}
}

// notifyLinkLocked reports a new hard link name (in parent, locked) to
// target: its link count changed.
func notifyLinkLocked(target, parent *Dentry, name string) {
	if !parent.watched() {
		return
	}
	notifyInode(target, unix.IN_ATTRIB)
	notifyChild(parent, name, target, unix.IN_CREATE, 0)
}

// removeAndNotify drops the cache's reference on child, just removed
// from parent (unlocked) as name, reporting the removal: IN_ATTRIB to a
// non-directory (its link count changed), IN_DELETE_SELF if that was the
// last link and reference, and IN_DELETE to parent.
func removeAndNotify(ctx Context, parent *Dentry, name string, child *Dentry) {
	if !parent.watched() {
		child.decRef()
		return
	}
	if !child.IsDir() {
		notifyInode(child, unix.IN_ATTRIB)
	}
	markDying(ctx, child)
	dirBit := isDirBit(child)
	child.decRef()
	if iw := parent.vfs.watches.lookup(parent.inode); iw != nil {
		iw.send(WatchEvent{Mask: unix.IN_DELETE | dirBit, Name: name})
	}
}

// markDying notes that d's inode lost its last link, if it is watched.
func markDying(ctx Context, d *Dentry) {
	if iw := d.vfs.watches.lookup(d.inode); iw != nil && noLinks(ctx, d) {
		iw.dying.Store(true)
	}
}

// notifyRename reports child moved from oldParent's oldName to
// newParent's newName, replacing replaced (nil if none), as Linux's
// fsnotify_move. The caller holds renameMu and both parents' locks.
func notifyRename(ctx Context, oldParent *Dentry, oldName string, newParent *Dentry, newName string, child, replaced *Dentry) {
	if !oldParent.watched() {
		return
	}
	if oldParent == newParent {
		notifyChild(oldParent, oldName, child, EventRename, 0)
	}
	cookie := oldParent.vfs.renameCookie.Add(1)
	notifyChild(oldParent, oldName, child, unix.IN_MOVED_FROM, cookie)
	notifyChild(newParent, newName, child, unix.IN_MOVED_TO, cookie)
	if replaced != nil {
		notifyInode(replaced, unix.IN_ATTRIB)
		markDying(ctx, replaced)
	}
	notifyInode(child, unix.IN_MOVE_SELF)
}

// notifyExchange reports RENAME_EXCHANGE of a (was oldParent's oldName)
// and b (was newParent's newName): two moves.
func notifyExchange(ctx Context, oldParent *Dentry, oldName string, a *Dentry, newParent *Dentry, newName string, b *Dentry) {
	notifyRename(ctx, oldParent, oldName, newParent, newName, a, nil)
	notifyRename(ctx, newParent, newName, oldParent, oldName, b, nil)
}

// notifySetStat reports a successful attribute change (err == nil) and
// returns err. The events are Linux's fsnotify_change: ownership and mode
// are IN_ATTRIB, size IN_MODIFY, both times IN_ATTRIB, one time alone
// IN_ACCESS (atime) or IN_MODIFY (mtime).
func (vfs *VirtualFilesystem) notifySetStat(vd VirtualDentry, opts *SetStatOptions, err error) error {
	if err != nil || !vfs.watches.active() {
		return err
	}
	var mask uint32
	m := opts.Mask
	if m&(unix.STATX_UID|unix.STATX_GID|unix.STATX_MODE) != 0 {
		mask |= unix.IN_ATTRIB
	}
	if m&unix.STATX_SIZE != 0 {
		mask |= unix.IN_MODIFY
	}
	switch m & (unix.STATX_ATIME | unix.STATX_MTIME) {
	case unix.STATX_ATIME | unix.STATX_MTIME:
		mask |= unix.IN_ATTRIB
	case unix.STATX_ATIME:
		mask |= unix.IN_ACCESS
	case unix.STATX_MTIME:
		mask |= unix.IN_MODIFY
	}
	if mask != 0 {
		vfs.notifyDentry(vd.dentry, mask, false)
	}
	return nil
}

// notifyDeath runs when d's last reference goes: if its inode had lost
// its last link, the watches hear IN_DELETE_SELF and are dropped.
func (d *Dentry) notifyDeath() {
	if !d.watched() {
		return
	}
	t := &d.vfs.watches
	iw := t.lookup(d.inode)
	if iw == nil || !iw.dying.Load() {
		return
	}
	t.mu.Lock()
	if t.m[d.inode] != iw {
		iw = nil
	} else {
		t.dropLocked(d.inode)
	}
	t.mu.Unlock()
	if iw != nil {
		iw.send(WatchEvent{Mask: unix.IN_DELETE_SELF})
		iw.send(WatchEvent{Mask: unix.IN_IGNORED})
	}
}

// notifyUnmounted reports IN_UNMOUNT to the watched inodes of the
// filesystems of the detached mounts ms that are mounted nowhere else,
// and drops those watches.
func (vfs *VirtualFilesystem) notifyUnmounted(ms ...*Mount) {
	if !vfs.watches.active() {
		return
	}
	gone := make(map[Filesystem]bool)
	vfs.mountMu.RLock()
	for _, m := range ms {
		gone[m.fs] = true
	}
	for _, m := range vfs.mounts {
		delete(gone, m.fs)
	}
	if vfs.root.mount != nil {
		delete(gone, vfs.root.mount.fs)
	}
	vfs.mountMu.RUnlock()
	if len(gone) == 0 {
		return
	}
	var dropped []*inodeWatches
	t := &vfs.watches
	t.mu.Lock()
	for ino, iw := range t.m {
		if gone[iw.fs] {
			t.dropLocked(ino)
			dropped = append(dropped, iw)
		}
	}
	t.mu.Unlock()
	for _, iw := range dropped {
		m := uint32(unix.IN_UNMOUNT)
		if iw.isDir {
			m |= unix.IN_ISDIR
		}
		iw.send(WatchEvent{Mask: m})
		iw.send(WatchEvent{Mask: unix.IN_IGNORED})
	}
}

// notifyAttrib reports IN_ATTRIB on vd if err is nil (extended attributes
// changed) and returns err.
func notifyAttrib(vd VirtualDentry, err error) error {
	if err == nil && vd.dentry.watched() {
		vd.mount.vfs.notifyDentry(vd.dentry, unix.IN_ATTRIB, false)
	}
	return err
}

// notifyModify reports IN_MODIFY on fd if err is nil (fallocate) and
// returns err.
func (fd *FileDescription) notifyModify(err error) error {
	if err == nil && fd.fsnotifyActive() {
		fd.notify(unix.IN_MODIFY)
	}
	return err
}
