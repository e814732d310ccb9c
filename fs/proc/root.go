package proc

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// pidKeyBase is where the process directories start among /proc's
// getdents keys: after every system entry, in pid order.
const pidKeyBase = 1 << 16

// rootDir is /proc itself: the system entries, then one directory per
// process.
type rootDir struct{}

// rootEntries are /proc's system entries, in listing order.
var rootEntries = makeRootEntries()

func makeRootEntries() staticDir {
	return staticDir{
		text("cmdline", func(vfs.Context, *inode) ([]byte, error) {
			return []byte("BOOT_IMAGE=/vmlinuz root=/dev/root ro\n"), nil
		}),
		text("cpuinfo", func(_ vfs.Context, n *inode) ([]byte, error) { return []byte(n.Data.fs.cpuinfo), nil }),
		text("filesystems", genFilesystems),
		text("loadavg", genLoadavg),
		text("meminfo", genMeminfo),
		linkEntry("mounts", func(vfs.Context, *inode) (string, error) { return "self/mounts", nil }),
		linkEntry("net", func(vfs.Context, *inode) (string, error) { return "self/net", nil }),
		linkEntry("self", func(ctx vfs.Context, n *inode) (string, error) {
			t := callerTask(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			pid := n.Data.fs.ns.IDOfThreadGroup(t.ThreadGroup())
			if pid == 0 {
				// Not visible in the namespace of this /proc.
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(pid)), nil
		}),
		text("stat", genStat),
		dirEntryOf("sys", sysDir),
		linkEntry("thread-self", func(ctx vfs.Context, n *inode) (string, error) {
			t := callerTask(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			ns := n.Data.fs.ns
			pid, tid := ns.IDOfThreadGroup(t.ThreadGroup()), ns.IDOfTask(t)
			if pid == 0 || tid == 0 {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(pid)) + "/task/" + strconv.Itoa(int(tid)), nil
		}),
		text("uptime", genUptime),
		text("version", genVersion),
	}
}

func (rootDir) Lookup(ctx vfs.Context, d *inode, name string) (*inode, error) {
	if e := rootEntries.Find(name); e != nil {
		return rootEntries.Build(d, e), nil
	}
	pid, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	tg := d.Data.fs.ns.ThreadGroupWithID(kernel.ThreadID(pid))
	if tg == nil {
		return nil, unix.ENOENT
	}
	return d.Data.fs.pidDir(tg), nil
}

func (rootDir) Entries(ctx vfs.Context, d *inode) ([]dirEntry, error) {
	out, _ := rootEntries.Entries(ctx, d)
	ns := d.Data.fs.ns
	for _, tg := range ns.ThreadGroups() {
		pid := int(ns.IDOfThreadGroup(tg))
		out = append(out, dirEntry{Name: strconv.Itoa(pid), Key: pidKeyBase + int64(pid), Node: d.Data.fs.pidDir(tg)})
	}
	return out, nil
}

// pidDir returns the node of /proc/[pid].
func (fs *Filesystem) pidDir(tg *kernel.ThreadGroup) *inode {
	name := strconv.Itoa(int(fs.ns.IDOfThreadGroup(tg)))
	n := fs.RootInode().NewChild(name, unix.S_IFDIR|0o555)
	n.Data.tg = tg
	n.Dir = processDir
	return n
}

// ProcessOfDir returns the process whose /proc/[pid] directory f is open
// on, or nil: Linux's pidfd_send_signal takes such a descriptor as a
// pidfd (tgid_pidfd_to_pid).
func ProcessOfDir(f *vfs.FileDescription) *kernel.ThreadGroup {
	d := f.VirtualDentry().Dentry()
	if d == nil {
		return nil
	}
	// /proc/[pid] is the only node of a process right below the root.
	if n, ok := d.Inode().(*inode); ok && n.Data.tg != nil && n.ParentIno() == n.FS().RootInode().Ino() {
		return n.Data.tg
	}
	return nil
}
