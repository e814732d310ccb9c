package sys

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// cgroupRoot is the sandbox's cgroup as a cgroup v2 directory, the way a
// container sees its own cgroup at the root of its cgroup namespace: the
// files of a non-root cgroup, with no limits but the sandbox's memory
// limit, listing the sandbox's processes.
var cgroupRoot = staticDir{
	constant("cgroup.controllers", "cpuset cpu io memory pids\n"),
	constant("cgroup.events", "populated 1\nfrozen 0\n"),
	constKnob("cgroup.freeze", "0\n"),
	constKnob("cgroup.max.depth", "max\n"),
	constKnob("cgroup.max.descendants", "max\n"),
	knob("cgroup.procs", genProcs),
	constant("cgroup.stat", "nr_descendants 0\nnr_dying_descendants 0\n"),
	constKnob("cgroup.subtree_control", "\n"),
	knob("cgroup.threads", genThreads),
	constKnob("cgroup.type", "domain\n"),
	constKnob("cpu.max", "max 100000\n"),
	text("cpu.stat", genCPUStat),
	constKnob("cpu.weight", "100\n"),
	constKnob("cpuset.cpus", "\n"),
	text("cpuset.cpus.effective", allCPUs),
	constKnob("cpuset.mems", "\n"),
	constant("cpuset.mems.effective", "0\n"),
	constKnob("io.max", ""),
	constant("io.stat", ""),
	text("memory.current", genMemoryCurrent),
	constant("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
	constKnob("memory.high", "max\n"),
	constKnob("memory.low", "0\n"),
	knob("memory.max", genMemoryMax),
	constKnob("memory.min", "0\n"),
	text("memory.stat", genMemoryStat),
	constant("memory.swap.current", "0\n"),
	constKnob("memory.swap.max", "max\n"),
	text("pids.current", genPidsCurrent),
	constKnob("pids.max", "max\n"),
}

// idList prints ids one per line, ascending, as cgroup.procs does.
func idList(ids []int) []byte {
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(id))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// readerNS is the PID namespace whose ids the reader of a cgroup file sees
// (Linux shows the pids of the reader's namespace and leaves out the
// others).
func readerNS(ctx vfs.Context, k *kernel.Kernel) *kernel.PIDNamespace {
	if t, ok := ctx.(*kernel.Task); ok {
		return t.PIDNamespace()
	}
	return k.RootPIDNamespace()
}

func genProcs(ctx vfs.Context, n *inode) ([]byte, error) {
	var ids []int
	ns := readerNS(ctx, n.Data.fs.k)
	for _, tg := range ns.ThreadGroups() {
		ids = append(ids, int(ns.IDOfThreadGroup(tg)))
	}
	return idList(ids), nil
}

func genThreads(ctx vfs.Context, n *inode) ([]byte, error) {
	var ids []int
	ns := readerNS(ctx, n.Data.fs.k)
	for _, tg := range ns.ThreadGroups() {
		for _, t := range tg.Tasks() {
			if id := ns.IDOfTask(t); id != 0 {
				ids = append(ids, int(id))
			}
		}
	}
	return idList(ids), nil
}

func genPidsCurrent(_ vfs.Context, n *inode) ([]byte, error) {
	live, _ := n.Data.fs.k.TaskCounts()
	return []byte(strconv.Itoa(live) + "\n"), nil
}

func genMemoryCurrent(_ vfs.Context, n *inode) ([]byte, error) {
	return []byte(strconv.FormatUint(n.Data.fs.memUsed(), 10) + "\n"), nil
}

func genMemoryMax(_ vfs.Context, n *inode) ([]byte, error) {
	if l := n.Data.fs.memLimit; l != 0 {
		return []byte(strconv.FormatUint(l, 10) + "\n"), nil
	}
	return []byte("max\n"), nil
}

func genMemoryStat(_ vfs.Context, n *inode) ([]byte, error) {
	used := n.Data.fs.memUsed()
	return []byte(fmt.Sprintf("anon %d\nfile 0\nkernel 0\nshmem 0\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\n", used)), nil
}

// genCPUStat reports the CPU time of the sandbox's live tasks.
func genCPUStat(_ vfs.Context, n *inode) ([]byte, error) {
	var user, sys time.Duration
	for _, tg := range n.Data.fs.k.ThreadGroups() {
		for _, t := range tg.Tasks() {
			u, s := t.CPUTime()
			user += u
			sys += s
		}
	}
	us := func(d time.Duration) int64 { return d.Microseconds() }
	return []byte(fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
		us(user+sys), us(user), us(sys))), nil
}
