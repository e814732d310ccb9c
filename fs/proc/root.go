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
		text("cpuinfo", func(_ vfs.Context, n *inode) ([]byte, error) { return []byte(n.fs.cpuinfo), nil }),
		text("filesystems", genFilesystems),
		text("loadavg", genLoadavg),
		text("meminfo", genMeminfo),
		linkEntry("mounts", func(vfs.Context, *inode) (string, error) { return "self/mounts", nil }),
		linkEntry("self", func(ctx vfs.Context, _ *inode) (string, error) {
			t := callerTask(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(t.ThreadGroup().PID())), nil
		}),
		text("stat", genStat),
		dirEntryOf("sys", sysDir),
		linkEntry("thread-self", func(ctx vfs.Context, _ *inode) (string, error) {
			t := callerTask(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(t.ThreadGroup().PID())) + "/task/" + strconv.Itoa(int(t.ThreadID())), nil
		}),
		text("uptime", genUptime),
		text("version", genVersion),
	}
}

func (rootDir) lookup(ctx vfs.Context, d *inode, name string) (*inode, error) {
	if e := rootEntries.find(name); e != nil {
		return rootEntries.build(d, e), nil
	}
	pid, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	tg := d.fs.k.FindThreadGroup(kernel.ThreadID(pid))
	if tg == nil {
		return nil, unix.ENOENT
	}
	return d.fs.pidDir(tg), nil
}

func (rootDir) entries(ctx vfs.Context, d *inode) ([]dirEntry, error) {
	out, _ := rootEntries.entries(ctx, d)
	for _, tg := range d.fs.k.ThreadGroups() {
		pid := int(tg.PID())
		out = append(out, dirEntry{name: strconv.Itoa(pid), key: pidKeyBase + int64(pid), n: d.fs.pidDir(tg)})
	}
	return out, nil
}

// pidDir returns the node of /proc/[pid].
func (fs *Filesystem) pidDir(tg *kernel.ThreadGroup) *inode {
	name := strconv.Itoa(int(tg.PID()))
	n := &inode{fs: fs, ino: childIno(1, name), parentIno: 1, mode: unix.S_IFDIR | 0o555, tg: tg, dir: processDir}
	return n
}
