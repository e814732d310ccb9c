package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Directory notification, fcntl(F_NOTIFY) (Linux's dnotify): a process
// asks to hear, by a signal, of changes in a directory it has open. Each
// request belongs to the open directory and the descriptor table that
// made it; the signal is the directory's F_SETSIG one (SIGIO by default)
// to its owner, with si_code POLL_MSG and si_fd the descriptor. A request
// without DN_MULTISHOT ends at its first signal.

// The DN_* bits of F_NOTIFY.
const (
	dnAccess    = 0x1
	dnModify    = 0x2
	dnCreate    = 0x4
	dnDelete    = 0x8
	dnRename    = 0x10
	dnAttrib    = 0x20
	dnMultishot = 0x80000000
)

// dnotifyEvents returns the VFS's IN_* events that the DN_* bits of arg
// hear (Linux's convert_arg). A rename within a directory tells it
// DN_RENAME, DN_DELETE and DN_CREATE, one signal each; a rename from one
// directory to another tells them DN_DELETE and DN_CREATE.
func dnotifyEvents(arg uint32) uint32 {
	var m uint32
	if arg&dnAccess != 0 {
		m |= unix.IN_ACCESS
	}
	if arg&dnModify != 0 {
		m |= unix.IN_MODIFY
	}
	if arg&dnCreate != 0 {
		m |= unix.IN_CREATE | unix.IN_MOVED_TO
	}
	if arg&dnDelete != 0 {
		m |= unix.IN_DELETE | unix.IN_MOVED_FROM
	}
	if arg&dnRename != 0 {
		m |= vfs.EventRename
	}
	if arg&dnAttrib != 0 {
		m |= unix.IN_ATTRIB
	}
	return m
}

// dnotifyTable is the Kernel's set of watched directories.
type dnotifyTable struct {
	// mu protects marks and every mark's requests. It comes before the
	// VFS's watch table lock (AddWatch, RemoveWatch) and is released
	// before any signal is sent.
	mu    sync.Mutex
	marks map[vfs.Inode]*dnotifyMark
}

// dnotifyMark is one watched directory: the VFS's Watcher on its inode.
type dnotifyMark struct {
	k    *Kernel
	tree *vfs.VirtualFilesystem
	ino  vfs.Inode
	// reqs are the requests on the directory; protected by
	// dnotifyTable.mu.
	reqs []*dnotifyRequest
}

// dnotifyRequest is what one descriptor table asked of one open
// directory.
type dnotifyRequest struct {
	table *vfs.FDTable
	async *FileAsync
	fd    int32
	// events are IN_* bits (dnotifyEvents).
	events    uint32
	multishot bool
}

// Dnotify implements fcntl(fd, F_NOTIFY, arg) for t on f. An arg with no
// event removes t's table's request on f. A request for a directory
// makes t's process the file's owner unless it has one, and one made
// again through the same table adds its events to the first.
func (k *Kernel) Dnotify(t *Task, f *vfs.FileDescription, fd int32, arg uint32) error {
	table := t.FDTable()
	a := k.FileAsyncOf(f)
	if arg&^dnMultishot == 0 {
		a.FlushAsync(table)
		return nil
	}
	vd := f.VirtualDentry()
	if !vd.Ok() || !vd.Dentry().IsDir() {
		return unix.ENOTDIR
	}
	if err := a.setOwner(t, OwnerPID, t.tg.ids[t.ns.level], false); err != nil {
		return err
	}
	ino := vd.Dentry().Inode()
	d := &k.dnotify
	d.mu.Lock()
	m := d.marks[ino]
	fresh := m == nil
	if fresh {
		if d.marks == nil {
			d.marks = make(map[vfs.Inode]*dnotifyMark)
		}
		m = &dnotifyMark{k: k, tree: k.VFS, ino: ino}
		d.marks[ino] = m
	}
	a.dnotify.Store(true)
	m.add(table, a, fd, arg)
	d.mu.Unlock()
	if fresh {
		// Outside d.mu: AddWatch may look at the directory, whose
		// operations report events to the mark with its locks held.
		vfs.AddWatch(t, vd, m)
	}
	return nil
}

// add adds arg's events to table's request through a, or makes one.
// dnotifyTable.mu must be held.
func (m *dnotifyMark) add(table *vfs.FDTable, a *FileAsync, fd int32, arg uint32) {
	for _, r := range m.reqs {
		if r.table == table && r.async == a {
			r.fd = fd
			r.events |= dnotifyEvents(arg)
			r.multishot = r.multishot || arg&dnMultishot != 0
			return
		}
	}
	m.reqs = append(m.reqs, &dnotifyRequest{table: table, async: a, fd: fd, events: dnotifyEvents(arg), multishot: arg&dnMultishot != 0})
}

// NotifyWatch implements vfs.Watcher: each request that hears ev sends
// its signal, and one without DN_MULTISHOT goes.
func (m *dnotifyMark) NotifyWatch(ev vfs.WatchEvent) {
	d := &m.k.dnotify
	type send struct {
		a  *FileAsync
		fd int32
	}
	var sends []send
	d.mu.Lock()
	if ev.Mask == unix.IN_IGNORED {
		// The directory is gone: so are its requests.
		m.reqs = nil
	}
	kept := m.reqs[:0]
	for _, r := range m.reqs {
		if r.events&ev.Mask != 0 {
			sends = append(sends, send{r.async, r.fd})
			if !r.multishot {
				continue
			}
		}
		kept = append(kept, r)
	}
	clear(m.reqs[len(kept):])
	m.reqs = kept
	if len(m.reqs) == 0 {
		m.dropLocked(ev.Mask != unix.IN_IGNORED)
	}
	d.mu.Unlock()
	for _, s := range sends {
		s.a.SendSigio(s.fd, vfs.PollMsg)
	}
}

// dropLocked forgets the mark, and its VFS watch unless the VFS has
// dropped it already. dnotifyTable.mu must be held.
func (m *dnotifyMark) dropLocked(watched bool) {
	d := &m.k.dnotify
	if d.marks[m.ino] == m {
		delete(d.marks, m.ino)
	}
	if watched {
		m.tree.RemoveWatch(m.ino, m)
	}
}

// FlushAsync implements vfs.AsyncFlusher: a close of a descriptor of the
// directory ends the requests its table made on it (dnotify_flush).
func (a *FileAsync) FlushAsync(table *vfs.FDTable) {
	if !a.dnotify.Load() {
		return
	}
	d := &a.k.dnotify
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.marks {
		kept := m.reqs[:0]
		for _, r := range m.reqs {
			if r.table != table || r.async != a {
				kept = append(kept, r)
			}
		}
		clear(m.reqs[len(kept):])
		m.reqs = kept
		if len(m.reqs) == 0 {
			m.dropLocked(true)
		}
	}
}
