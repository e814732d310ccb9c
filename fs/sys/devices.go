package sys

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// sysRoot is /sys: the top-level directories of a real sysfs, those the
// sandbox has nothing to show in left empty.
var sysRoot = staticDir{
	emptyDir("block"),
	emptyDir("bus"),
	emptyDir("class"),
	emptyDir("dev"),
	dir("devices", staticDir{
		dir("system", staticDir{
			dir("cpu", cpuDir{}),
			dir("node", nodeDir),
		}),
	}),
	emptyDir("firmware"),
	// fs/cgroup is where the cgroup view is mounted.
	dir("fs", staticDir{emptyDir("cgroup")}),
	dir("kernel", staticDir{
		dir("mm", staticDir{
			dir("transparent_hugepage", staticDir{
				constKnob("defrag", "always defer defer+madvise [madvise] never\n"),
				constKnob("enabled", "always [madvise] never\n"),
				constant("hpage_pmd_size", "2097152\n"),
				constKnob("shmem_enabled", "always within_size advise [never] deny force\n"),
				constKnob("use_zero_page", "1\n"),
			}),
		}),
	}),
	emptyDir("module"),
	emptyDir("power"),
}

// allCPUs returns the list of every CPU ("0-3").
func allCPUs(_ vfs.Context, n *inode) ([]byte, error) {
	return []byte(cpuRange(0, n.Data.ncpu()-1) + "\n"), nil
}

// allCPUsMask returns the mask of every CPU.
func allCPUsMask(_ vfs.Context, n *inode) ([]byte, error) {
	ncpu := n.Data.ncpu()
	return []byte(cpuMask(ncpu, 0, ncpu-1) + "\n"), nil
}

// cpuDir is /sys/devices/system/cpu: the CPU sets, then cpuN for each
// CPU.
type cpuDir struct{}

// cpuKeyBase is where the cpuN directories start among the keys.
const cpuKeyBase = 1 << 16

var cpuEntries = staticDir{
	constant("isolated", "\n"),
	constant("kernel_max", strconv.Itoa(kernelMax)+"\n"),
	constant("offline", "\n"),
	text("online", allCPUs),
	text("possible", allCPUs),
	text("present", allCPUs),
}

// parseCPU parses a cpuN name (no sign, no leading zeros).
func parseCPU(name string, ncpu int) (int, bool) {
	s, ok := strings.CutPrefix(name, "cpu")
	if !ok || s == "" || (s[0] == '0' && len(s) > 1) || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i >= ncpu {
		return 0, false
	}
	return i, true
}

func (cpuDir) cpuNode(d *inode, i int) *inode {
	c := d.NewChild("cpu"+strconv.Itoa(i), unix.S_IFDIR|0o755)
	c.Data.cpu = i
	c.Dir = oneCPUDir(i)
	return c
}

func (s cpuDir) Lookup(ctx vfs.Context, d *inode, name string) (*inode, error) {
	if e := cpuEntries.Find(name); e != nil {
		return cpuEntries.Build(d, e), nil
	}
	i, ok := parseCPU(name, d.Data.ncpu())
	if !ok {
		return nil, unix.ENOENT
	}
	return s.cpuNode(d, i), nil
}

func (s cpuDir) Entries(ctx vfs.Context, d *inode) ([]dirEntry, error) {
	out, _ := cpuEntries.Entries(ctx, d)
	for i := 0; i < d.Data.ncpu(); i++ {
		out = append(out, dirEntry{Name: "cpu" + strconv.Itoa(i), Key: cpuKeyBase + int64(i), Node: s.cpuNode(d, i)})
	}
	return out, nil
}

// cpu0Dir and cpuNDir are /sys/devices/system/cpu/cpuN: cpu0 cannot be
// taken offline, so it has no online attribute.
var cpu0Dir, cpuNDir = makeCPUDirs()

func oneCPUDir(i int) staticDir {
	if i == 0 {
		return cpu0Dir
	}
	return cpuNDir
}

func makeCPUDirs() (staticDir, staticDir) {
	// Each CPU is a core of its own in the one package.
	self := func(_ vfs.Context, n *inode) ([]byte, error) {
		return []byte(strconv.Itoa(n.Data.cpu) + "\n"), nil
	}
	selfMask := func(_ vfs.Context, n *inode) ([]byte, error) {
		return []byte(cpuMask(n.Data.ncpu(), n.Data.cpu, n.Data.cpu) + "\n"), nil
	}
	topology := staticDir{
		text("cluster_cpus", selfMask),
		text("cluster_cpus_list", self),
		text("cluster_id", self),
		text("core_cpus", selfMask),
		text("core_cpus_list", self),
		text("core_id", self),
		text("core_siblings", allCPUsMask),
		text("core_siblings_list", allCPUs),
		text("die_cpus", allCPUsMask),
		text("die_cpus_list", allCPUs),
		constant("die_id", "0\n"),
		text("package_cpus", allCPUsMask),
		text("package_cpus_list", allCPUs),
		constant("physical_package_id", "0\n"),
		text("thread_siblings", selfMask),
		text("thread_siblings_list", self),
	}
	cpu0 := staticDir{
		symlink("node0", "../../node/node0"),
		dir("topology", topology),
	}
	cpuN := staticDir{
		symlink("node0", "../../node/node0"),
		constKnob("online", "1\n"),
		dir("topology", topology),
	}
	return cpu0, cpuN
}

// nodeDir is /sys/devices/system/node: one NUMA node with every CPU and
// the sandbox's memory.
var nodeDir = staticDir{
	constant("has_cpu", "0\n"),
	constant("has_memory", "0\n"),
	constant("has_normal_memory", "0\n"),
	dir("node0", staticDir{
		text("cpulist", allCPUs),
		text("cpumap", allCPUsMask),
		constant("distance", "10\n"),
		text("meminfo", genNodeMeminfo),
	}),
	constant("online", "0\n"),
	constant("possible", "0\n"),
}

func genNodeMeminfo(_ vfs.Context, n *inode) ([]byte, error) {
	fs := n.Data.fs
	total, used := fs.memTotal(), fs.memUsed()
	if used > total {
		used = total
	}
	var b strings.Builder
	kb := func(name string, v uint64) { fmt.Fprintf(&b, "Node 0 %-16s%8d kB\n", name+":", v>>10) }
	kb("MemTotal", total)
	kb("MemFree", total-used)
	kb("MemUsed", used)
	kb("Active", used)
	kb("Inactive", 0)
	kb("Active(anon)", used)
	kb("Inactive(anon)", 0)
	kb("Active(file)", 0)
	kb("Inactive(file)", 0)
	kb("Unevictable", 0)
	kb("Mlocked", 0)
	kb("Dirty", 0)
	kb("Writeback", 0)
	kb("FilePages", 0)
	kb("Mapped", 0)
	kb("AnonPages", used)
	kb("Shmem", 0)
	return []byte(b.String()), nil
}

// cpuRange returns a CPU list for CPUs first..last ("0-3", or "2").
func cpuRange(first, last int) string {
	if first == last {
		return strconv.Itoa(first)
	}
	return strconv.Itoa(first) + "-" + strconv.Itoa(last)
}

// cpuMask returns the mask of CPUs first..last as Linux prints a cpumask
// of nbits CPUs ("%*pb"): hex, in 32-bit groups separated by commas, most
// significant first, the first group as wide as its bits need.
func cpuMask(nbits, first, last int) string {
	if nbits < 1 {
		nbits = 1
	}
	var b strings.Builder
	width := nbits % 32
	if width == 0 {
		width = 32
	}
	for base := (nbits - 1) / 32 * 32; base >= 0; base -= 32 {
		var w uint32
		for i := base; i < base+32; i++ {
			if i >= first && i <= last && i < nbits {
				w |= 1 << uint(i-base)
			}
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%0*x", (width+3)/4, w)
		width = 32
	}
	return b.String()
}
