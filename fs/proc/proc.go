// Package proc is the sandbox's procfs, mounted at /proc: one directory per
// process of the sandbox's PID namespace (never the host's), the
// /proc/self and /proc/thread-self links, and the system files (meminfo,
// cpuinfo, stat, uptime, sys/…) describing the sandbox.
//
// The tree is a kernfs tree (fs/kernfs: nodes, seq_file-like generated
// files, getdents, the fixed-tree errnos); this package owns what is
// particular to procfs, through kernfs's hooks: the per-node payload
// naming the process and thread a node describes, lookup of processes and
// threads, ownership of a process' nodes by its effective ids, the
// ptrace-access checks, and the death of a process' nodes: once it has
// been reaped, lookups below its directory give ENOENT and reads of files
// that are already open give ESRCH.
//
// Everything is synthesised on demand from the kernel's read-only
// introspection API (sentry/kernel/introspect.go) and the memory manager's
// (sentry/mm/procfs.go).
//
// Lock order: Filesystem.mu is a leaf; kernfs holds an open file's lock
// while its content is generated (which takes kernel and mm locks).
package proc

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/kernfs"
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
	// Sysctls are the sandbox's writable sysctls (sysctl.go), shared by
	// its procfs instances; nil gives this instance its own, at their
	// defaults.
	Sysctls *Sysctls
	// OOMScoreAdj is the oom_score_adj of a process that has not
	// written its own: config.json's process.oomScoreAdj, which the
	// container's init has and its descendants inherit.
	OOMScoreAdj int
	// UIDMap and GIDMap, if set, are the maps of the user namespace the
	// sandbox process runs in (config.json's linux.uidMappings and
	// gidMappings), which /proc/[pid]/uid_map and gid_map show.
	UIDMap, GIDMap []IDMapEntry
	// PIDNamespace is the PID namespace whose processes the instance
	// shows, under their pids there (nil: the root namespace).
	PIDNamespace *kernel.PIDNamespace
}

// IDMapEntry is one line of a user namespace's id map.
type IDMapEntry struct {
	ContainerID, HostID, Size uint32
}

// Filesystem is a procfs instance. It describes one kernel. The embedded
// kernfs tree implements vfs.Filesystem.
type Filesystem struct {
	*kernfs.Filesystem[node]
	k *kernel.Kernel
	// ns is the PID namespace whose pids the instance shows: that of
	// the task that mounted it (Linux semantics). Immutable.
	ns       *kernel.PIDNamespace
	boot     time.Time
	memLimit uint64
	cpuinfo  string
	bootID   string
	sysctls  *Sysctls
	// defaultOOMScoreAdj is Options.OOMScoreAdj.
	defaultOOMScoreAdj int
	// uidMap and gidMap are Options.UIDMap and GIDMap.
	uidMap, gidMap []IDMapEntry

	// mu protects oomScoreAdj.
	mu sync.Mutex
	// oomScoreAdj records what processes wrote to oom_score_adj.
	oomScoreAdj map[*kernel.ThreadGroup]int
}

// New returns a procfs describing k.
func New(k *kernel.Kernel, opts Options) *Filesystem {
	fs := &Filesystem{
		k:           k,
		ns:          opts.PIDNamespace,
		boot:        opts.BootTime,
		memLimit:    opts.MemoryLimit,
		bootID:      newUUID(),
		oomScoreAdj: make(map[*kernel.ThreadGroup]int),
		sysctls:     opts.Sysctls,

		defaultOOMScoreAdj: opts.OOMScoreAdj,
		uidMap:             opts.UIDMap,
		gidMap:             opts.GIDMap,
	}
	if fs.sysctls == nil {
		fs.sysctls = NewSysctls()
	}
	if fs.ns == nil {
		fs.ns = k.RootPIDNamespace()
	}
	if fs.boot.IsZero() {
		fs.boot = time.Now()
	}
	fs.cpuinfo = buildCPUInfo(opts.HostCPUInfo, k.NumCPU())
	fs.build(opts.DevMinor)
	return fs
}

// build makes fs's kernfs tree.
func (fs *Filesystem) build(devMinor uint32) {
	fs.Filesystem = kernfs.New(kernfs.Options[node]{
		Name:     "proc",
		Magic:    procSuperMagic,
		DevMinor: devMinor,
		RootMode: 0o555,
		Time:     fs.boot,
		Hooks: kernfs.Hooks[node]{
			Owner: func(n *inode) (auth.KUID, auth.KGID) { return n.Data.owner() },
			Time:  func(n *inode) time.Time { return n.Data.startTime() },
			Gone:  func(n *inode) bool { return n.Data.gone() },
		},
	}, rootDir{}, node{fs: fs})
}

// PIDNamespace returns the namespace whose pids fs shows.
func (fs *Filesystem) PIDNamespace() *kernel.PIDNamespace { return fs.ns }

// ForPIDNamespace returns another procfs instance with fs's settings
// (boot time, CPU and memory figures, sysctls, id maps) that shows the
// processes of ns under their pids there: a pod member's /proc when the
// member has its own PID namespace.
func (fs *Filesystem) ForPIDNamespace(ns *kernel.PIDNamespace, devMinor uint32) *Filesystem {
	n := &Filesystem{
		k: fs.k, ns: ns, boot: fs.boot, memLimit: fs.memLimit, cpuinfo: fs.cpuinfo,
		bootID: fs.bootID, sysctls: fs.sysctls, defaultOOMScoreAdj: fs.defaultOOMScoreAdj,
		uidMap: fs.uidMap, gidMap: fs.gidMap, oomScoreAdj: make(map[*kernel.ThreadGroup]int),
	}
	n.build(devMinor)
	return n
}

// node is procfs's payload of a kernfs node: nodes below a process'
// directory record the process (tg) and, below task/[tid], the thread (t).
type node struct {
	fs *Filesystem
	// tg is the process the node describes, nil for system nodes.
	tg *kernel.ThreadGroup
	// t is the thread the node describes (task/[tid]/…), or nil for the
	// process as a whole (its leader).
	t *kernel.Task
	// exists, if not nil, reports whether the object the node names
	// (an open descriptor) still exists.
	exists func() bool
}

// The kernfs types as procfs uses them.
type (
	inode       = kernfs.Inode[node]
	staticDir   = kernfs.StaticDir[node]
	staticEntry = kernfs.Entry[node]
	dirEntry    = kernfs.DirEntry[node]
	fileOps     = kernfs.FileOps[node]
	linkFunc    = kernfs.LinkFunc[node]
	magicFunc   = kernfs.MagicFunc[node]
)

// task returns the task the node describes: its thread, or the process'
// leader.
func (p *node) task() *kernel.Task {
	if p.t != nil {
		return p.t
	}
	if p.tg != nil {
		return p.tg.Leader()
	}
	return nil
}

// gone reports whether the process (or thread) the node describes no
// longer exists: the process was reaped, or the thread exited.
func (p *node) gone() bool {
	if p.tg == nil {
		return false
	}
	if p.tg.State().Reaped {
		return true
	}
	if p.t != nil && p.t != p.tg.Leader() && !p.t.Alive() {
		return true
	}
	return p.exists != nil && !p.exists()
}

// owner gives nodes of a process to its effective uid and gid, as on
// Linux; system nodes belong to root.
func (p *node) owner() (auth.KUID, auth.KGID) {
	if t := p.task(); t != nil {
		c := t.Credentials()
		return c.EffectiveKUID, c.EffectiveKGID
	}
	return 0, 0
}

// startTime dates a process' nodes from its start; system nodes take the
// boot time (zero).
func (p *node) startTime() time.Time {
	if t := p.task(); t != nil {
		return t.StartTime()
	}
	return time.Time{}
}

// capSysPtrace is CAP_SYS_PTRACE.
const capSysPtrace = 19

// mayPtrace implements the access check of Linux's
// ptrace_may_access(PTRACE_MODE_READ_FSCREDS) that guards environ, auxv,
// fd/ and the exe/cwd/root links: the caller's own process, a process
// whose real, effective and saved ids all equal the caller's filesystem
// ids, or CAP_SYS_PTRACE.
func mayPtrace(ctx vfs.Context, p *node) error {
	target := p.task()
	if target == nil {
		return nil
	}
	if self, ok := ctx.(*kernel.Task); ok && self.ThreadGroup() == p.tg {
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

// ptraceOpen is FileOps.MayOpen of files whose reading needs ptrace
// access to the process (environ, auxv).
func ptraceOpen(ctx vfs.Context, n *inode, flags uint32) error {
	if flags&unix.O_ACCMODE == unix.O_WRONLY {
		return nil
	}
	return mayPtrace(ctx, &n.Data)
}

// Helpers to declare static entries.

func fileEntry(name string, mode uint32, ops *fileOps) staticEntry {
	return kernfs.File(name, mode, ops)
}

// text declares a read-only (0444) file generated by gen.
func text(name string, gen func(ctx vfs.Context, n *inode) ([]byte, error)) staticEntry {
	return kernfs.Text(name, gen)
}

// constant declares a read-only file with fixed content.
func constant(name, content string) staticEntry { return kernfs.Constant[node](name, content) }

func linkEntry(name string, fn linkFunc) staticEntry { return kernfs.Symlink(name, fn) }

// magicEntry declares a magic link: readlink gives fn's path, following it
// jumps to magic's object.
func magicEntry(name string, fn linkFunc, magic magicFunc) staticEntry {
	return kernfs.Magic(name, fn, magic)
}

func dirEntryOf(name string, ops kernfs.DirOps[node]) staticEntry {
	return kernfs.Dir(name, 0o555, ops)
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
