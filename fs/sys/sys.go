// Package sys is the sandbox's sysfs, mounted read-only at /sys, and the
// cgroup v2 view mounted at /sys/fs/cgroup. They answer the probes that
// runtimes and libraries make (glibc's get_nprocs reads
// /sys/devices/system/cpu/online, Go and the JVM look for cgroup limits,
// lscpu walks the CPU topology) with values that describe the sandbox —
// its CPU count (kernel.Kernel.NumCPU), its processes, its memory file —
// and never the host's devices or cgroups.
//
// The CPU topology matches /proc/cpuinfo (fs/proc): one package, one core
// per CPU, one thread per core, one NUMA node.
//
// Both trees are kernfs trees (fs/kernfs): every file is generated when
// read; nothing can be created or written (opening an attribute for
// writing gives EACCES, as sysfs does for read-only attributes, and the
// mounts are read-only besides).
//
// Lock order: no locks of its own; generators take kernel locks below
// kernfs's open-file lock.
package sys

import (
	"time"

	"github.com/rampart-sandbox/rampart/fs/kernfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Filesystem types and their statfs f_type.
const (
	sysfsMagic   = 0x62656572 // SYSFS_MAGIC
	cgroup2Magic = 0x63677270 // CGROUP2_SUPER_MAGIC
)

// kernelMax is /sys/devices/system/cpu/kernel_max, NR_CPUS-1 of the
// distribution kernels' x86-64 configuration.
const kernelMax = 8191

// Options configure a sysfs or cgroup instance.
type Options struct {
	// DevMinor is the anonymous device minor of the instance.
	DevMinor uint32
	// MemoryLimit, if not zero, is the sandbox's memory limit: the
	// memory size of node0 and cgroup's memory.max.
	MemoryLimit uint64
	// Time is the nodes' timestamp (now when zero).
	Time time.Time
}

// Filesystem is a sysfs or cgroup instance describing one kernel. The
// embedded kernfs tree implements vfs.Filesystem.
type Filesystem struct {
	*kernfs.Filesystem[node]
	k        *kernel.Kernel
	memLimit uint64
}

// node is the payload of the trees' nodes.
type node struct {
	fs *Filesystem
	// cpu is the CPU that /sys/devices/system/cpu/cpuN and its subtree
	// describe.
	cpu int
}

// The kernfs types as this package uses them.
type (
	inode     = kernfs.Inode[node]
	staticDir = kernfs.StaticDir[node]
	entry     = kernfs.Entry[node]
	dirEntry  = kernfs.DirEntry[node]
	genFunc   = func(ctx vfs.Context, n *inode) ([]byte, error)
	directory = kernfs.DirOps[node]
	fileOps   = kernfs.FileOps[node]
)

func newFS(k *kernel.Kernel, opts Options, name string, magic int64, rootMode uint32, root directory) *Filesystem {
	fs := &Filesystem{k: k, memLimit: opts.MemoryLimit}
	fs.Filesystem = kernfs.New(kernfs.Options[node]{
		Name:                 name,
		Magic:                magic,
		DevMinor:             opts.DevMinor,
		RootMode:             rootMode,
		Time:                 opts.Time,
		FileSize:             4096,
		BlockSize:            4096,
		WriteOpenNeedsWriter: true,
	}, root, node{fs: fs})
	return fs
}

// New returns a sysfs describing k.
func New(k *kernel.Kernel, opts Options) *Filesystem {
	return newFS(k, opts, "sysfs", sysfsMagic, 0o555, sysRoot)
}

// NewCgroup returns the cgroup v2 hierarchy describing k's sandbox as a
// single cgroup, the root of the sandbox's cgroup namespace: its limits
// and its processes.
func NewCgroup(k *kernel.Kernel, opts Options) *Filesystem {
	return newFS(k, opts, "cgroup2", cgroup2Magic, 0o755, cgroupRoot)
}

// Helpers to declare entries with sysfs's modes: directories 0755,
// attributes 0444 (read-only) or 0644 (attributes root may change on
// Linux; here they accept no writes either).

func dir(name string, ops directory) entry { return kernfs.Dir(name, 0o755, ops) }

func emptyDir(name string) entry { return dir(name, staticDir{}) }

func text(name string, gen genFunc) entry { return kernfs.Text(name, gen) }

func constant(name, content string) entry { return kernfs.Constant[node](name, content) }

// knob declares a 0644 attribute (one root may write on Linux).
func knob(name string, gen genFunc) entry {
	return kernfs.File(name, 0o644, &fileOps{Gen: gen})
}

func constKnob(name, content string) entry {
	b := []byte(content)
	return knob(name, func(vfs.Context, *inode) ([]byte, error) { return b, nil })
}

func symlink(name, target string) entry {
	return kernfs.Symlink(name, func(vfs.Context, *inode) (string, error) { return target, nil })
}

// ncpu returns the sandbox's CPU count.
func (p *node) ncpu() int {
	if n := p.fs.k.NumCPU(); n > 0 {
		return n
	}
	return 1
}

// memTotal returns the sandbox's memory size: its limit, or the host's
// memory (as /proc/meminfo reports it).
func (fs *Filesystem) memTotal() uint64 { return kernel.MemoryTotal(fs.memLimit) }

// memUsed returns the memory the sandbox's memory file holds.
func (fs *Filesystem) memUsed() uint64 {
	if fs.k.MemoryFile == nil {
		return 0
	}
	return fs.k.MemoryFile.Usage().InUse()
}
