// Package devpts is the sandbox's pseudo-terminal filesystem, mounted on
// /dev/pts: opening its ptmx node (or /dev/ptmx, a symlink to it) creates a
// terminal, whose master is the file ptmx returned and whose replica is
// the node /dev/pts/N. The terminal's line discipline (linedisc.go) and
// its job control (through sentry/kernel/tty.go) are implemented here;
// host terminals are never used.
//
// Lifetime: /dev/pts/N appears when the master is created and disappears
// when the master is closed (the replica's open files are then hung up);
// the index N is reused once both ends are closed.
//
// Lock order: Filesystem.mu, then Terminal.mu, then Kernel.mu (the job
// control calls), then the terminal's vfs.WaitQueues.
package devpts

import (
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Device numbers (Documentation/admin-guide/devices.txt).
const (
	ptmxMajor        = 5
	ptmxMinor        = 2
	replicaMajorBase = 136
	// maxPTYs is /proc/sys/kernel/pty/max's default.
	maxPTYs = 4096
)

// Filesystem is a devpts instance.
type Filesystem struct {
	// k sends the terminals' signals and keeps their sessions; nil in
	// tests without a kernel.
	k    *kernel.Kernel
	dev  uint64
	root *dirInode
	ptmx *ptmxInode

	// mu protects terms.
	mu sync.Mutex
	// terms holds every terminal whose index is in use, until both of
	// its ends are closed.
	terms map[uint32]*Terminal
}

// New returns a devpts whose terminals signal and control sessions of k
// (which may be nil), with the given anonymous device minor.
func New(k *kernel.Kernel, devMinor uint32) *Filesystem {
	fs := &Filesystem{k: k, dev: unix.Mkdev(0, devMinor), terms: make(map[uint32]*Terminal)}
	now := vfs.Now()
	fs.root = &dirInode{fs: fs, time: now}
	fs.ptmx = &ptmxInode{fs: fs, time: now}
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "devpts" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() (vfs.Inode, error) { return fs.root, nil }

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(vfs.Context) (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: 0x1cd1, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// newTerminal allocates the lowest free index (ENOSPC when there is none)
// and creates its terminal with an open master.
func (fs *Filesystem) newTerminal(ctx vfs.Context) (*Terminal, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	idx := uint32(0)
	for ; idx < maxPTYs; idx++ {
		if _, ok := fs.terms[idx]; !ok {
			break
		}
	}
	if idx == maxPTYs {
		return nil, unix.ENOSPC
	}
	creds := ctx.Credentials()
	t := &Terminal{
		fs: fs, index: idx,
		ld:         lineDiscipline{termios: defaultTermios()},
		locked:     true,
		masterOpen: true,
		visible:    true,
		mode:       0o620,
		uid:        creds.FilesystemKUID,
		gid:        creds.FilesystemKGID,
	}
	t.ctime = vfs.Now()
	t.atime, t.mtime = t.ctime, t.ctime
	t.ctl = kernel.NewTTYControl(t)
	fs.terms[idx] = t
	return t, nil
}

// lookupTerminal returns the terminal of /dev/pts/name while it is
// visible.
func (fs *Filesystem) lookupTerminal(name string) *Terminal {
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return nil
	}
	fs.mu.Lock()
	t := fs.terms[uint32(n)]
	fs.mu.Unlock()
	if t == nil || !t.isVisible() {
		return nil
	}
	return t
}

// release frees t's index (both ends are closed).
func (fs *Filesystem) release(t *Terminal) {
	fs.mu.Lock()
	if fs.terms[t.index] == t {
		delete(fs.terms, t.index)
	}
	fs.mu.Unlock()
	if fs.k != nil {
		fs.k.ReleaseTTY(t.ctl)
	}
}

// dirInode is the root directory.
type dirInode struct {
	vfs.ReadOnlyInode
	fs   *Filesystem
	time unix.Timespec
}

func (d *dirInode) Perms() (uint32, auth.KUID, auth.KGID) { return unix.S_IFDIR | 0o755, 0, 0 }

func (d *dirInode) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: unix.S_IFDIR | 0o755, Nlink: 2, Blksize: 4096, Ino: 1, Dev: d.fs.dev,
		Atime: d.time, Mtime: d.time, Ctime: d.time}, nil
}

func (d *dirInode) Lookup(_ vfs.Context, name string) (vfs.Inode, error) {
	if name == "ptmx" {
		return d.fs.ptmx, nil
	}
	if t := d.fs.lookupTerminal(name); t != nil {
		return &replicaInode{t: t}, nil
	}
	return nil, unix.ENOENT
}

func (d *dirInode) Open(vfs.Context, vfs.VirtualDentry, uint32) (vfs.FileDescriptionImpl, error) {
	return &dirFile{d: d}, nil
}

func (d *dirInode) Readlink(vfs.Context) (string, error) { return "", unix.EINVAL }

func (d *dirInode) Release() {}

// dirFile is an open /dev/pts.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	d *dirInode
}

func (f *dirFile) Release(vfs.Context) {}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.d.Stat(ctx) }

// Getdents implements vfs.FileDescriptionImpl.Getdents: ".", "..",
// "ptmx" at offsets 0-2, then terminal N at offset N+3.
func (f *dirFile) Getdents(_ vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	fixed := []vfs.Dirent{
		{Name: ".", Ino: 1, Type: unix.DT_DIR, NextOff: 1},
		{Name: "..", Ino: 1, Type: unix.DT_DIR, NextOff: 2},
		{Name: "ptmx", Ino: 2, Type: unix.DT_CHR, NextOff: 3},
	}
	for ; off < 3; off++ {
		if !cb(&fixed[off]) {
			return nil
		}
	}
	fs := f.d.fs
	fs.mu.Lock()
	var idx []uint32
	for i, t := range fs.terms {
		if int64(i)+3 >= off && t.isVisible() {
			idx = append(idx, i)
		}
	}
	fs.mu.Unlock()
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	for _, i := range idx {
		d := vfs.Dirent{Name: strconv.FormatUint(uint64(i), 10), Ino: uint64(i) + 3, Type: unix.DT_CHR, NextOff: int64(i) + 4}
		if !cb(&d) {
			return nil
		}
	}
	return nil
}

// ptmxInode is /dev/pts/ptmx: each open creates a terminal.
type ptmxInode struct {
	vfs.ReadOnlyInode
	fs   *Filesystem
	time unix.Timespec
}

func (p *ptmxInode) Perms() (uint32, auth.KUID, auth.KGID) { return unix.S_IFCHR | 0o666, 0, 0 }

func (p *ptmxInode) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: unix.S_IFCHR | 0o666, Nlink: 1, Blksize: 4096, Ino: 2, Dev: p.fs.dev,
		Rdev: unix.Mkdev(ptmxMajor, ptmxMinor), Atime: p.time, Mtime: p.time, Ctime: p.time}, nil
}

func (p *ptmxInode) Lookup(vfs.Context, string) (vfs.Inode, error) { return nil, unix.ENOTDIR }

func (p *ptmxInode) Readlink(vfs.Context) (string, error) { return "", unix.EINVAL }

func (p *ptmxInode) Release() {}

// Open implements vfs.Inode.Open: a new terminal, locked, whose master is
// the returned file. The master never becomes a controlling terminal.
func (p *ptmxInode) Open(ctx vfs.Context, _ vfs.VirtualDentry, _ uint32) (vfs.FileDescriptionImpl, error) {
	t, err := p.fs.newTerminal(ctx)
	if err != nil {
		return nil, err
	}
	return &masterFile{file{t: t}}, nil
}

// replicaInode is /dev/pts/N.
type replicaInode struct {
	vfs.ReadOnlyInode
	t *Terminal
}

func (r *replicaInode) Perms() (uint32, auth.KUID, auth.KGID) {
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	return unix.S_IFCHR | t.mode, t.uid, t.gid
}

func (r *replicaInode) Stat(vfs.Context) (vfs.Stat, error) { return r.t.stat(), nil }

// SetStat implements vfs.Inode.SetStat: chmod, chown and utimes (grantpt
// of older C libraries uses them).
func (r *replicaInode) SetStat(_ vfs.Context, o *vfs.SetStatOptions) error {
	if o.Mask&unix.STATX_SIZE != 0 {
		return unix.EINVAL
	}
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if o.Mask&unix.STATX_MODE != 0 {
		t.mode = o.Mode & 0o7777
	}
	if o.Mask&unix.STATX_UID != 0 {
		t.uid = o.UID
	}
	if o.Mask&unix.STATX_GID != 0 {
		t.gid = o.GID
	}
	if o.Mask&unix.STATX_ATIME != 0 {
		t.atime = o.Atime
	}
	if o.Mask&unix.STATX_MTIME != 0 {
		t.mtime = o.Mtime
	}
	t.ctime = vfs.Now()
	return nil
}

func (r *replicaInode) Lookup(vfs.Context, string) (vfs.Inode, error) { return nil, unix.ENOTDIR }

func (r *replicaInode) Readlink(vfs.Context) (string, error) { return "", unix.EINVAL }

func (r *replicaInode) Release() {}

// Valid implements vfs.Revalidator: the node goes when the master closes.
func (r *replicaInode) Valid(vfs.Context) bool { return r.t.isVisible() }

// Open implements vfs.Inode.Open: EIO while the terminal is locked
// (TIOCSPTLCK) or its master is gone, EBUSY while it is exclusive
// (TIOCEXCL) for a caller without CAP_SYS_ADMIN. Without O_NOCTTY, a
// session leader without a controlling terminal acquires it.
func (r *replicaInode) Open(ctx vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	return r.t.openReplica(ctx, flags, true)
}
