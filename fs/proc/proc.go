// Package proc is the sandbox's procfs, mounted at /proc: one directory per
// process of the sandbox's PID namespace (never the host's), the
// /proc/self and /proc/thread-self links, and the system files (meminfo,
// cpuinfo, stat, uptime, sys/…) describing the sandbox.
//
// Everything is synthesised on demand from the kernel's read-only
// introspection API (sentry/kernel/introspect.go) and the memory manager's
// (sentry/mm/procfs.go). A file's content is generated when it is read
// from offset 0 and served from that snapshot for the reads that follow,
// like Linux's seq_file. Nodes of a process die with it: once it has been
// reaped, lookups below its directory give ENOENT and reads of files that
// are already open give ESRCH.
//
// Lock order: Filesystem.mu and openFile.mu are leaves, except that
// openFile.mu is held while a file's content is generated (which takes
// kernel and mm locks).
package proc

import (
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// procSuperMagic is PROC_SUPER_MAGIC, statfs's f_type.
const procSuperMagic = 0x9fa0

// Options configure a procfs instance.
type Options struct {
	// DevMinor is the anonymous device minor of the instance.
	DevMinor uint32
	// BootTime is when the sandbox started: uptime, btime and the
	// processes' start times count from it.
	BootTime time.Time
	// MemoryLimit, if not zero, is what MemTotal reports instead of the
	// host's total memory.
	MemoryLimit uint64
	// HostCPUInfo is the host's /proc/cpuinfo (see ReadHostCPUInfo),
	// from which the CPU descriptions are taken; empty gives a generic
	// description.
	HostCPUInfo string
}

// Filesystem is a procfs instance. It describes one kernel.
type Filesystem struct {
	k        *kernel.Kernel
	dev      uint64
	boot     time.Time
	memLimit uint64
	cpuinfo  string
	bootID   string
	root     *inode

	// mu protects oomScoreAdj.
	mu sync.Mutex
	// oomScoreAdj records what processes wrote to oom_score_adj.
	oomScoreAdj map[*kernel.ThreadGroup]int
}

// New returns a procfs describing k.
func New(k *kernel.Kernel, opts Options) *Filesystem {
	fs := &Filesystem{
		k:           k,
		dev:         unix.Mkdev(0, opts.DevMinor),
		boot:        opts.BootTime,
		memLimit:    opts.MemoryLimit,
		bootID:      newUUID(),
		oomScoreAdj: make(map[*kernel.ThreadGroup]int),
	}
	if fs.boot.IsZero() {
		fs.boot = time.Now()
	}
	fs.cpuinfo = buildCPUInfo(opts.HostCPUInfo, k.NumCPU())
	fs.root = &inode{fs: fs, ino: 1, mode: unix.S_IFDIR | 0o555, dir: rootDir{}}
	fs.root.parentIno = 1
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "proc" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() (vfs.Inode, error) { return fs.root, nil }

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(vfs.Context) (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: procSuperMagic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// inode is a procfs node: a directory (dir set), a regular file (file
// set) or a symlink (link set). Nodes below a process' directory record
// the process (tg) and, below task/[tid], the thread (t). All fields are
// immutable.
type inode struct {
	fs        *Filesystem
	ino       uint64
	parentIno uint64
	mode      uint32
	// tg is the process the node describes, nil for system nodes.
	tg *kernel.ThreadGroup
	// t is the thread the node describes (task/[tid]/…), or nil for the
	// process as a whole (its leader).
	t *kernel.Task

	dir  dirOps
	file *fileOps
	link linkFunc
	// magic, if not nil, makes the link a vfs.MagicLink: following it
	// jumps to the object (fd/N, cwd, root) rather than walking the path.
	magic magicFunc
	// exists, if not nil, reports whether the object the node names
	// (an open descriptor) still exists.
	exists func() bool
}

// dirOps are the contents of a directory.
type dirOps interface {
	// lookup returns the child name.
	lookup(ctx vfs.Context, d *inode, name string) (*inode, error)
	// entries lists the children (without "." and ".."), ordered by key.
	entries(ctx vfs.Context, d *inode) ([]dirEntry, error)
}

// dirEntry is one child in a listing. key orders entries and is the
// getdents offset at which the entry is returned; it must grow along the
// listing and be stable while the entry exists.
type dirEntry struct {
	name string
	key  int64
	n    *inode
}

// fileOps generate and accept a regular file's content.
type fileOps struct {
	// gen returns the whole content.
	gen func(ctx vfs.Context, n *inode) ([]byte, error)
	// write, if not nil, accepts a write (of the whole buffer at once).
	write func(ctx vfs.Context, n *inode, data []byte) error
	// ptrace says that reading needs ptrace access to the process.
	ptrace bool
}

// linkFunc returns a symlink's target.
type linkFunc func(ctx vfs.Context, n *inode) (string, error)

// magicFunc returns a magic link's object: a referenced dentry or, for a
// file without a path, a referenced description.
type magicFunc func(ctx vfs.Context, n *inode) (vfs.VirtualDentry, *vfs.FileDescription, error)

// childIno derives a stable inode number for name below the directory
// with inode number parent.
func childIno(parent uint64, name string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(parent >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(name))
	ino := h.Sum64() &^ (1 << 63)
	if ino < 2 {
		ino += 2
	}
	return ino
}

// newChild returns a node named name below d, describing the same
// process and thread.
func (d *inode) newChild(name string, mode uint32) *inode {
	return &inode{fs: d.fs, ino: childIno(d.ino, name), parentIno: d.ino, mode: mode, tg: d.tg, t: d.t}
}

// task returns the task the node describes: its thread, or the process'
// leader.
func (n *inode) task() *kernel.Task {
	if n.t != nil {
		return n.t
	}
	if n.tg != nil {
		return n.tg.Leader()
	}
	return nil
}

// gone reports whether the process (or thread) the node describes no
// longer exists: the process was reaped, or the thread exited.
func (n *inode) gone() bool {
	if n.tg == nil {
		return false
	}
	if n.tg.State().Reaped {
		return true
	}
	if n.t != nil && n.t != n.tg.Leader() && !n.t.Alive() {
		return true
	}
	return n.exists != nil && !n.exists()
}

// Perms implements vfs.Inode.Perms: nodes of a process belong to its
// effective uid and gid, as on Linux.
func (n *inode) Perms() (uint32, auth.KUID, auth.KGID) {
	if t := n.task(); t != nil {
		c := t.Credentials()
		return n.mode, c.EffectiveKUID, c.EffectiveKGID
	}
	return n.mode, 0, 0
}

// Valid implements vfs.Revalidator: a process' nodes leave the dentry
// cache when it is gone.
func (n *inode) Valid(vfs.Context) bool { return !n.gone() }

// Stat implements vfs.Inode.Stat.
func (n *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	if n.gone() {
		return vfs.Stat{}, unix.ENOENT
	}
	mode, uid, gid := n.Perms()
	ts := unix.NsecToTimespec(n.fs.boot.UnixNano())
	if t := n.task(); t != nil {
		ts = unix.NsecToTimespec(t.StartTime().UnixNano())
	}
	st := vfs.Stat{
		Mode: mode, Nlink: 1, UID: uid, GID: gid, Blksize: 1024, Ino: n.ino, Dev: n.fs.dev,
		Atime: ts, Mtime: ts, Ctime: ts,
	}
	if n.dir != nil {
		st.Nlink = 2
	}
	return st, nil
}

// Lookup implements vfs.Inode.Lookup.
func (n *inode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	if n.dir == nil {
		return nil, unix.ENOTDIR
	}
	if n.gone() {
		return nil, unix.ENOENT
	}
	c, err := n.dir.lookup(ctx, n, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Readlink implements vfs.Inode.Readlink.
func (n *inode) Readlink(ctx vfs.Context) (string, error) {
	if n.link == nil {
		return "", unix.EINVAL
	}
	if n.gone() {
		return "", unix.ENOENT
	}
	return n.link(ctx, n)
}

// MagicTarget implements vfs.MagicLink.
func (n *inode) MagicTarget(ctx vfs.Context) (vfs.VirtualDentry, *vfs.FileDescription, bool, error) {
	if n.magic == nil {
		return vfs.VirtualDentry{}, nil, false, nil
	}
	if n.gone() {
		return vfs.VirtualDentry{}, nil, true, unix.ENOENT
	}
	vd, f, err := n.magic(ctx, n)
	return vd, f, true, err
}

// Release implements vfs.Inode.Release.
func (n *inode) Release() {}

// The tree is fixed: modifications fail with Linux's errnos for procfs.

// SetStat implements vfs.Inode.SetStat: mode and owner changes are
// refused (EPERM); truncation and time changes are accepted and ignored.
func (n *inode) SetStat(_ vfs.Context, opts *vfs.SetStatOptions) error {
	if opts.Mask&(unix.STATX_MODE|unix.STATX_UID|unix.STATX_GID) != 0 {
		return unix.EPERM
	}
	return nil
}

// Create implements vfs.Inode.Create.
func (n *inode) Create(vfs.Context, string, *vfs.CreateOptions) (vfs.Inode, error) {
	return nil, unix.ENOENT
}

// Link implements vfs.Inode.Link.
func (n *inode) Link(vfs.Context, string, vfs.Inode) (vfs.Inode, error) { return nil, unix.ENOENT }

// Unlink implements vfs.Inode.Unlink.
func (n *inode) Unlink(vfs.Context, string, vfs.Inode) error { return unix.EPERM }

// Rmdir implements vfs.Inode.Rmdir.
func (n *inode) Rmdir(vfs.Context, string, vfs.Inode) error { return unix.EPERM }

// Rename implements vfs.Inode.Rename.
func (n *inode) Rename(vfs.Context, string, vfs.Inode, vfs.Inode, string, vfs.Inode) error {
	return unix.ENOENT
}

// Open implements vfs.Inode.Open.
func (n *inode) Open(ctx vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	if n.gone() {
		return nil, unix.ENOENT
	}
	switch {
	case n.dir != nil:
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			return nil, unix.EISDIR
		}
		return &dirFile{n: n}, nil
	case n.link != nil:
		return nil, unix.ELOOP
	}
	if n.file.ptrace && flags&unix.O_ACCMODE != unix.O_WRONLY {
		if err := mayPtrace(ctx, n); err != nil {
			return nil, err
		}
	}
	return &openFile{n: n}, nil
}

// capSysPtrace is CAP_SYS_PTRACE.
const capSysPtrace = 19

// mayPtrace implements the access check of Linux's
// ptrace_may_access(PTRACE_MODE_READ_FSCREDS) that guards environ, auxv,
// fd/ and the exe/cwd/root links: the caller's own process, a process
// whose real, effective and saved ids all equal the caller's filesystem
// ids, or CAP_SYS_PTRACE.
func mayPtrace(ctx vfs.Context, n *inode) error {
	target := n.task()
	if target == nil {
		return nil
	}
	if self, ok := ctx.(*kernel.Task); ok && self.ThreadGroup() == n.tg {
		return nil
	}
	c, tc := ctx.Credentials(), target.Credentials()
	if c.HasCapability(capSysPtrace) {
		return nil
	}
	uid, gid := c.FilesystemKUID, c.FilesystemKGID
	if tc.RealKUID == uid && tc.EffectiveKUID == uid && tc.SavedKUID == uid &&
		tc.RealKGID == gid && tc.EffectiveKGID == gid && tc.SavedKGID == gid {
		return nil
	}
	return unix.EACCES
}

// openFile is an open regular procfs file.
type openFile struct {
	vfs.FileDescriptionDefaultImpl
	n *inode

	// mu protects data and valid.
	mu    sync.Mutex
	data  []byte
	valid bool
}

func (f *openFile) Release(vfs.Context) {}

func (f *openFile) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := f.n.Stat(ctx)
	if err == unix.ENOENT {
		err = unix.ESRCH
	}
	return st, err
}

// PRead implements vfs.FileDescriptionImpl.PRead: a read at offset 0
// regenerates the content, later ones continue in the same snapshot.
func (f *openFile) PRead(ctx vfs.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		off = 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if off == 0 || !f.valid {
		if f.n.tg != nil && f.n.gone() {
			return 0, unix.ESRCH
		}
		data, err := f.n.file.gen(ctx, f.n)
		if err != nil {
			return 0, err
		}
		f.data, f.valid = data, true
	}
	if off >= int64(len(f.data)) {
		return 0, nil
	}
	return copy(dst, f.data[off:]), nil
}

// PWrite implements vfs.FileDescriptionImpl.PWrite.
func (f *openFile) PWrite(ctx vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if f.n.file.write == nil {
		return 0, off, unix.EINVAL
	}
	if f.n.tg != nil && f.n.gone() {
		return 0, off, unix.ESRCH
	}
	if err := f.n.file.write(ctx, f.n, src); err != nil {
		return 0, off, err
	}
	return len(src), off + int64(len(src)), nil
}

// Seek implements vfs.FileDescriptionImpl.Seek: as seq_file, SEEK_SET and
// SEEK_CUR only.
func (f *openFile) Seek(_ vfs.Context, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		offset += cur
	default:
		return 0, unix.EINVAL
	}
	if offset < 0 {
		return 0, unix.EINVAL
	}
	return offset, nil
}

// dirFile is an open procfs directory.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	n *inode
}

func (f *dirFile) Release(vfs.Context) {}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := f.n.Stat(ctx)
	if err == unix.ENOENT {
		err = unix.ESRCH
	}
	return st, err
}

// Getdents implements vfs.FileDescriptionImpl.Getdents. Offsets 0 and 1
// are "." and ".."; the children follow at their keys (plus 2).
func (f *dirFile) Getdents(ctx vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	n := f.n
	if n.gone() {
		return unix.ENOENT
	}
	if off == 0 {
		if !cb(&vfs.Dirent{Name: ".", Ino: n.ino, Type: unix.DT_DIR, NextOff: 1}) {
			return nil
		}
		off = 1
	}
	if off == 1 {
		if !cb(&vfs.Dirent{Name: "..", Ino: n.parentIno, Type: unix.DT_DIR, NextOff: 2}) {
			return nil
		}
		off = 2
	}
	ents, err := n.dir.entries(ctx, n)
	if err != nil {
		return err
	}
	i := sort.Search(len(ents), func(i int) bool { return ents[i].key+2 >= off })
	for ; i < len(ents); i++ {
		e := ents[i]
		d := vfs.Dirent{Name: e.name, Ino: e.n.ino, Type: vfs.DirentType(e.n.mode), NextOff: e.key + 3}
		if !cb(&d) {
			return nil
		}
	}
	return nil
}

// staticEntry describes a fixed child of a directory.
type staticEntry struct {
	name string
	mode uint32
	// make fills in the node's kind (dir, file or link).
	make func(c *inode)
}

// staticDir is a directory with a fixed list of children.
type staticDir []staticEntry

func (s staticDir) find(name string) *staticEntry {
	for i := range s {
		if s[i].name == name {
			return &s[i]
		}
	}
	return nil
}

func (s staticDir) build(d *inode, e *staticEntry) *inode {
	c := d.newChild(e.name, e.mode)
	e.make(c)
	return c
}

func (s staticDir) lookup(_ vfs.Context, d *inode, name string) (*inode, error) {
	e := s.find(name)
	if e == nil {
		return nil, unix.ENOENT
	}
	return s.build(d, e), nil
}

func (s staticDir) entries(_ vfs.Context, d *inode) ([]dirEntry, error) {
	out := make([]dirEntry, len(s))
	for i := range s {
		out[i] = dirEntry{name: s[i].name, key: int64(i), n: s.build(d, &s[i])}
	}
	return out, nil
}

// Helpers to declare static entries.

func fileEntry(name string, mode uint32, ops *fileOps) staticEntry {
	return staticEntry{name: name, mode: unix.S_IFREG | mode, make: func(c *inode) { c.file = ops }}
}

// text declares a read-only (0444) file generated by gen.
func text(name string, gen func(ctx vfs.Context, n *inode) ([]byte, error)) staticEntry {
	return fileEntry(name, 0o444, &fileOps{gen: gen})
}

// constant declares a read-only file with fixed content.
func constant(name, content string) staticEntry {
	b := []byte(content)
	return text(name, func(vfs.Context, *inode) ([]byte, error) { return b, nil })
}

func linkEntry(name string, fn linkFunc) staticEntry {
	return staticEntry{name: name, mode: unix.S_IFLNK | 0o777, make: func(c *inode) { c.link = fn }}
}

// magicEntry declares a magic link: readlink gives fn's path, following it
// jumps to magic's object.
func magicEntry(name string, fn linkFunc, magic magicFunc) staticEntry {
	return staticEntry{name: name, mode: unix.S_IFLNK | 0o777, make: func(c *inode) { c.link, c.magic = fn, magic }}
}

func dirEntryOf(name string, ops dirOps) staticEntry {
	return staticEntry{name: name, mode: unix.S_IFDIR | 0o555, make: func(c *inode) { c.dir = ops }}
}

// parseID parses a decimal pid/tid/fd directory name as Linux does: no
// sign, no leading zeros.
func parseID(name string) (int, bool) {
	if name == "" || (name[0] == '0' && len(name) > 1) || name[0] < '0' || name[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(name, 10, 31)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// callerTask returns the calling task, or nil for a context that is not
// a task (the boot code).
func callerTask(ctx vfs.Context) *kernel.Task {
	t, _ := ctx.(*kernel.Task)
	return t
}

// sysContext is the context of procfs's own housekeeping (dropping a
// reference outside any syscall): root credentials, no memory.
type sysContext struct{}

var rootCreds = auth.NewRootCredentials()

func (sysContext) Credentials() *auth.Credentials      { return rootCreds }
func (sysContext) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (sysContext) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }
