package proc

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// The kernel identity the sandbox reports. It must match uname(2)
// (syscalls/linux/sys_info.go); test/syscalls/proc_sys.c checks that it
// does.
const (
	osType    = "Linux"
	osRelease = "6.6.0"
	osVersion = "#1 SMP Rampart"
)

// ReadHostCPUInfo returns the host's /proc/cpuinfo for Options.HostCPUInfo
// (empty if it cannot be read). The sandbox shows the host's CPU model and
// feature flags, which programs use to pick code paths; nothing else of
// the host's procfs is read.
func ReadHostCPUInfo() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	return string(b)
}

// buildCPUInfo returns /proc/cpuinfo for ncpu CPUs from the host's text:
// the host's entry for each CPU, renumbered and reduced to ncpu entries
// (the first entry repeated if the host has fewer).
func buildCPUInfo(host string, ncpu int) string {
	var blocks []string
	for _, b := range strings.Split(host, "\n\n") {
		if strings.HasPrefix(b, "processor") {
			blocks = append(blocks, strings.TrimRight(b, "\n"))
		}
	}
	if len(blocks) == 0 {
		blocks = []string{"processor\t: 0\nvendor_id\t: unknown\nmodel name\t: unknown\nflags\t\t: fpu\nbogomips\t: 1000.00"}
	}
	var out strings.Builder
	for i := 0; i < ncpu; i++ {
		b := blocks[0]
		if i < len(blocks) {
			b = blocks[i]
		}
		for _, line := range strings.Split(b, "\n") {
			key, _, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(key) {
			case "processor":
				line = fmt.Sprintf("processor\t: %d", i)
			case "siblings", "cpu cores":
				line = fmt.Sprintf("%s: %d", key, ncpu)
			case "core id", "apicid", "initial apicid":
				line = fmt.Sprintf("%s: %d", key, i)
			case "physical id":
				line = fmt.Sprintf("%s: 0", key)
			}
			out.WriteString(line)
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
	}
	return out.String()
}

// newUUID returns a random version-4 UUID in its text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func genVersion(vfs.Context, *inode) ([]byte, error) {
	return []byte(fmt.Sprintf("%s version %s (rampart@rampart) (gcc, GNU ld) %s\n", osType, osRelease, osVersion)), nil
}

// filesystemTypes are the filesystem types the sandbox knows.
var filesystemTypes = []string{"sysfs", "tmpfs", "proc", "devtmpfs", "pipefs", "devpts", "mqueue"}

func genFilesystems(vfs.Context, *inode) ([]byte, error) {
	var b bytes.Buffer
	for _, t := range filesystemTypes {
		fmt.Fprintf(&b, "nodev\t%s\n", t)
	}
	return b.Bytes(), nil
}

// uptime returns the time since the sandbox started.
func (fs *Filesystem) uptime() time.Duration { return time.Since(fs.boot) }

// busyTime returns the CPU time of every live task, user and system.
func (fs *Filesystem) busyTime() (user, sys time.Duration) {
	for _, tg := range fs.k.ThreadGroups() {
		for _, t := range tg.Tasks() {
			u, s := t.CPUTime()
			user += u
			sys += s
		}
	}
	return user, sys
}

func genUptime(_ vfs.Context, n *inode) ([]byte, error) {
	up := n.Data.fs.uptime()
	user, sys := n.Data.fs.busyTime()
	idle := up*time.Duration(n.Data.fs.k.NumCPU()) - user - sys
	if idle < 0 {
		idle = 0
	}
	return []byte(fmt.Sprintf("%.2f %.2f\n", up.Seconds(), idle.Seconds())), nil
}

func genLoadavg(_ vfs.Context, n *inode) ([]byte, error) {
	live, last := n.Data.fs.k.TaskCounts()
	return []byte(fmt.Sprintf("0.00 0.00 0.00 1/%d %d\n", live, last)), nil
}

func genStat(_ vfs.Context, n *inode) ([]byte, error) {
	fs := n.Data.fs
	ncpu := fs.k.NumCPU()
	up := fs.uptime()
	user, sys := fs.busyTime()
	idle := up*time.Duration(ncpu) - user - sys
	if idle < 0 {
		idle = 0
	}
	t := func(d time.Duration) int64 { return ticks(d.Nanoseconds()) }
	var b bytes.Buffer
	fmt.Fprintf(&b, "cpu  %d 0 %d %d 0 0 0 0 0 0\n", t(user), t(sys), t(idle))
	for i := 0; i < ncpu; i++ {
		d := time.Duration(ncpu)
		fmt.Fprintf(&b, "cpu%d %d 0 %d %d 0 0 0 0 0 0\n", i, t(user/d), t(sys/d), t(idle/d))
	}
	_, last := fs.k.TaskCounts()
	fmt.Fprintf(&b, "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running 1\nprocs_blocked 0\n", fs.boot.Unix(), last)
	fmt.Fprintf(&b, "softirq 0 0 0 0 0 0 0 0 0 0 0\n")
	return b.Bytes(), nil
}

// memTotal returns the sandbox's memory size.
func (fs *Filesystem) memTotal() uint64 { return kernel.MemoryTotal(fs.memLimit) }

func genMeminfo(_ vfs.Context, n *inode) ([]byte, error) {
	fs := n.Data.fs
	total := fs.memTotal()
	used := fs.k.MemoryFile.Usage().InUse()
	free := uint64(0)
	if used < total {
		free = total - used
	}
	var b bytes.Buffer
	kb := func(name string, v uint64) { fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", v>>10) }
	kb("MemTotal", total)
	kb("MemFree", free)
	kb("MemAvailable", free)
	kb("Buffers", 0)
	kb("Cached", 0)
	kb("SwapCached", 0)
	kb("Active", used)
	kb("Inactive", 0)
	kb("Active(anon)", used)
	kb("Inactive(anon)", 0)
	kb("Active(file)", 0)
	kb("Inactive(file)", 0)
	kb("Unevictable", 0)
	kb("Mlocked", 0)
	kb("SwapTotal", 0)
	kb("SwapFree", 0)
	kb("Dirty", 0)
	kb("Writeback", 0)
	kb("AnonPages", used)
	kb("Mapped", 0)
	kb("Shmem", 0)
	kb("KReclaimable", 0)
	kb("Slab", 0)
	kb("SReclaimable", 0)
	kb("SUnreclaim", 0)
	kb("KernelStack", 0)
	kb("PageTables", 0)
	kb("CommitLimit", total/2)
	kb("Committed_AS", used)
	kb("VmallocTotal", 34359738367<<10)
	kb("VmallocUsed", 0)
	kb("VmallocChunk", 0)
	kb("AnonHugePages", 0)
	fmt.Fprintf(&b, "%-16s%8d\n%-16s%8d\n%-16s%8d\n%-16s%8d\n", "HugePages_Total:", 0, "HugePages_Free:", 0, "HugePages_Rsvd:", 0, "HugePages_Surp:", 0)
	kb("Hugepagesize", 2<<20)
	kb("Hugetlb", 0)
	return b.Bytes(), nil
}

// sysDir is /proc/sys: the sysctls programs commonly read, and the
// sandbox's writable ones (sysctl.go).
var sysDir = makeSysDir()

func makeSysDir() staticDir {
	random := staticDir{
		text("boot_id", func(_ vfs.Context, n *inode) ([]byte, error) { return []byte(n.Data.fs.bootID + "\n"), nil }),
		constant("entropy_avail", "256\n"),
		constant("poolsize", "256\n"),
		text("uuid", func(vfs.Context, *inode) ([]byte, error) { return []byte(newUUID() + "\n"), nil }),
	}
	kernelDir := staticDir{
		constant("cap_last_cap", "40\n"),
		constant("core_pattern", "core\n"),
		fileEntry("domainname", 0o644, &fileOps{
			Gen: func(_ vfs.Context, n *inode) ([]byte, error) {
				_, d := n.Data.fs.k.UTSNames()
				return []byte(d + "\n"), nil
			},
			Write: func(ctx vfs.Context, n *inode, data []byte) error {
				name, err := utsName(ctx, data)
				if err == nil {
					n.Data.fs.k.SetDomainname(name)
				}
				return err
			},
		}),
		fileEntry("hostname", 0o644, &fileOps{
			Gen: func(_ vfs.Context, n *inode) ([]byte, error) {
				h, _ := n.Data.fs.k.UTSNames()
				return []byte(h + "\n"), nil
			},
			Write: func(ctx vfs.Context, n *inode, data []byte) error {
				name, err := utsName(ctx, data)
				if err == nil {
					n.Data.fs.k.SetHostname(name)
				}
				return err
			},
		}),
		constant("ngroups_max", "65536\n"),
		constant("osrelease", osRelease+"\n"),
		constant("ostype", osType+"\n"),
		constant("overflowgid", "65534\n"),
		constant("overflowuid", "65534\n"),
		constant("pid_max", "4194304\n"),
		dirEntryOf("random", random),
		constant("randomize_va_space", "2\n"),
		constant("threads-max", "4194304\n"),
		constant("version", osVersion+"\n"),
		dirEntryOf("yama", staticDir{constant("ptrace_scope", "1\n")}),
	}
	vmDir := staticDir{
		constant("max_map_count", "65530\n"),
		constant("mmap_min_addr", "65536\n"),
		constant("overcommit_memory", "0\n"),
		constant("overcommit_ratio", "50\n"),
	}
	fsDir := staticDir{
		constant("file-max", "9223372036854775807\n"),
		constant("nr_open", "1048576\n"),
		constant("pipe-max-size", "1048576\n"),
	}
	// The network sysctls are all writable (sysctl.go).
	netDir := staticDir{}
	return withSysctls("", staticDir{
		dirEntryOf("fs", fsDir),
		dirEntryOf("kernel", kernelDir),
		dirEntryOf("net", netDir),
		dirEntryOf("vm", vmDir),
	})
}

// utsName validates a write to hostname or domainname: CAP_SYS_ADMIN, at
// most 64 bytes, one trailing newline dropped.
func utsName(ctx vfs.Context, data []byte) (string, error) {
	if !ctx.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
		return "", unix.EPERM
	}
	s := strings.TrimSuffix(string(data), "\n")
	if len(s) > 64 {
		return "", unix.EINVAL
	}
	return s, nil
}
