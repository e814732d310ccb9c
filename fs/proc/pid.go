package proc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/kernfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// processDir is /proc/[pid]; threadDir is /proc/[pid]/task/[tid], the same
// files for one thread.
var processDir, threadDir = makePidDirs()

func makePidDirs() (staticDir, staticDir) {
	common := staticDir{
		fileEntry("auxv", 0o400, &fileOps{Gen: genAuxv, MayOpen: ptraceOpen}),
		constant("cgroup", "0::/\n"),
		text("cmdline", genCmdline),
		fileEntry("comm", 0o644, &fileOps{Gen: genComm, Write: writeComm}),
		magicEntry("cwd", linkCwd, func(ctx vfs.Context, n *inode) (vfs.VirtualDentry, *vfs.FileDescription, error) {
			return n.Data.fsMagic(ctx, false)
		}),
		fileEntry("environ", 0o400, &fileOps{Gen: genEnviron, MayOpen: ptraceOpen}),
		linkEntry("exe", linkExe),
		kernfs.Dir[node]("fd", 0o500, fdDir{}),
		kernfs.Dir[node]("fdinfo", 0o500, fdDir{info: true}),
		text("gid_map", genGIDMap),
		text("limits", genLimits),
		text("loginuid", func(vfs.Context, *inode) ([]byte, error) { return []byte("4294967295"), nil }),
		text("maps", genMaps),
		fileEntry("mem", 0o600, &fileOps{MayOpen: memMayOpen, Open: openMem}),
		text("mountinfo", genMountinfo),
		text("mounts", genMounts),
		text("mountstats", genMountstats),
		dirEntryOf("net", netDir),
		dirEntryOf("ns", nsDir),
		constant("oom_score", "0\n"),
		fileEntry("oom_score_adj", 0o644, &fileOps{Gen: genOOMScoreAdj, Write: writeOOMScoreAdj}),
		magicEntry("root", linkRoot, func(ctx vfs.Context, n *inode) (vfs.VirtualDentry, *vfs.FileDescription, error) {
			return n.Data.fsMagic(ctx, true)
		}),
		text("sessionid", func(vfs.Context, *inode) ([]byte, error) { return []byte("4294967295"), nil }),
		text("smaps", genSmaps),
		text("stat", genPidStat),
		text("statm", genStatm),
		text("status", genStatus),
		text("uid_map", genUIDMap),
		constant("wchan", "0"),
	}
	process := append(append(staticDir(nil), common...), dirEntryOf("task", taskListDir{}))
	// Keep the listing sorted by name.
	for i := len(process) - 1; i > 0 && process[i].Name < process[i-1].Name; i-- {
		process[i], process[i-1] = process[i-1], process[i]
	}
	return process, common
}

// taskListDir is /proc/[pid]/task: one directory per live thread.
type taskListDir struct{}

func (taskListDir) threadNode(d *inode, t *kernel.Task) *inode {
	c := d.NewChild(strconv.Itoa(int(d.Data.fs.ns.IDOfTask(t))), unix.S_IFDIR|0o555)
	c.Data.t = t
	c.Dir = threadDir
	return c
}

func (s taskListDir) Lookup(_ vfs.Context, d *inode, name string) (*inode, error) {
	tid, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	ns := d.Data.fs.ns
	t := ns.TaskWithID(kernel.ThreadID(tid))
	if t != nil && t.ThreadGroup() != d.Data.tg {
		t = nil
	}
	if t == nil {
		if l := d.Data.tg.Leader(); l != nil && int(ns.IDOfTask(l)) == tid && d.Data.tg.State().Zombie {
			t = l
		} else {
			return nil, unix.ENOENT
		}
	}
	return s.threadNode(d, t), nil
}

func (s taskListDir) Entries(_ vfs.Context, d *inode) ([]dirEntry, error) {
	tasks := d.Data.tg.Tasks()
	if len(tasks) == 0 {
		if l := d.Data.tg.Leader(); l != nil {
			tasks = append(tasks, l)
		}
	}
	out := make([]dirEntry, 0, len(tasks))
	for _, t := range tasks {
		tid := d.Data.fs.ns.IDOfTask(t)
		out = append(out, dirEntry{Name: strconv.Itoa(int(tid)), Key: int64(tid), Node: s.threadNode(d, t)})
	}
	return out, nil
}

// snapshot is what the status files of one task show.
type snapshot struct {
	t     *kernel.Task
	ps    kernel.ProcessState
	alive bool
	res   kernel.TaskResources
	// state is the one-letter state and its name.
	state, stateName string
}

func (p *node) snapshot(ctx vfs.Context) (*snapshot, error) {
	t := p.task()
	if t == nil {
		return nil, unix.ESRCH
	}
	s := &snapshot{t: t, ps: p.tg.StateIn(p.fs.ns)}
	if s.ps.Reaped {
		return nil, unix.ESRCH
	}
	s.res, s.alive = t.Resources()
	switch {
	case !s.alive:
		s.state, s.stateName = "Z", "zombie"
	case callerTask(ctx) == t:
		s.state, s.stateName = "R", "running"
	default:
		s.state, s.stateName = "S", "sleeping"
	}
	return s, nil
}

// clockTicks is USER_HZ.
const clockTicks = 100

func ticks(ns int64) int64 { return ns / (1e9 / clockTicks) }

// cpuTicks returns the user and system time of the node's thread, or of
// every live thread of its process.
func (p *node) cpuTicks() (utime, stime int64) {
	tasks := []*kernel.Task{p.t}
	if p.t == nil {
		tasks = p.tg.Tasks()
	}
	for _, t := range tasks {
		u, s := t.CPUTime()
		utime += int64(u)
		stime += int64(s)
	}
	return ticks(utime), ticks(stime)
}

func genPidStat(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	t := s.t
	utime, stime := n.Data.cpuTicks()
	threads := s.ps.NumThreads
	if threads == 0 {
		threads = 1
	}
	start := ticks(t.StartTime().Sub(n.Data.fs.boot).Nanoseconds())
	var vsize, rss, argStart, argEnd, envStart, envEnd, brkStart, stackStart uint64
	if s.alive && s.res.MM != nil {
		st := s.res.MM.Stats()
		vsize, rss = st.VirtualSize, st.Resident/4096
		argStart, argEnd, envStart, envEnd = s.res.MM.ArgvEnv()
		brkStart = s.res.MM.BrkStart()
		stackStart = s.res.MM.StackStart()
	}
	ignored, caught := n.Data.tg.SignalDispositions()
	rsslim := n.Data.tg.Limits().Get(unix.RLIMIT_RSS).Cur
	exitCode := 0
	if !s.alive && s.ps.Zombie {
		exitCode = int(s.ps.Status)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d (%s) %s %d %d %d %d %d %d ", n.Data.fs.ns.IDOfTask(t), t.Name(), s.state, s.ps.PPID, s.ps.PGID, s.ps.SID, 0, -1, 4194304)
	fmt.Fprintf(&b, "%d %d %d %d %d %d %d %d %d %d %d %d ", 0, 0, 0, 0, utime, stime, 0, 0, 20, 0, threads, 0)
	fmt.Fprintf(&b, "%d %d %d %d %d %d %d %d %d ", start, vsize, rss, rsslim, 1, 1, stackStart, 0, 0)
	fmt.Fprintf(&b, "%d %d %d %d %d %d %d %d %d %d %d %d %d ", 0, t.SignalMask(), ignored, caught, 0, 0, 0, s.ps.ExitSignal, 0, 0, 0, 0, 0)
	fmt.Fprintf(&b, "%d %d %d %d %d %d %d %d %d\n", 0, 0, 0, brkStart, argStart, argEnd, envStart, envEnd, exitCode)
	return b.Bytes(), nil
}

func genStatm(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var size, res, shared, text, data uint64
	if s.alive && s.res.MM != nil {
		st := s.res.MM.Stats()
		size, res, shared = st.VirtualSize/4096, st.Resident/4096, st.ResidentFile/4096
		text, data = st.Exec/4096, (st.Data+st.Stack)/4096
	}
	return []byte(fmt.Sprintf("%d %d %d %d 0 %d 0\n", size, res, shared, text, data)), nil
}

func genStatus(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	t := s.t
	c := t.Credentials()
	var b bytes.Buffer
	fmt.Fprintf(&b, "Name:\t%s\n", escapeName(t.Name()))
	if s.alive && s.res.FS != nil {
		fmt.Fprintf(&b, "Umask:\t%04o\n", s.res.FS.Umask())
	}
	fmt.Fprintf(&b, "State:\t%s (%s)\n", s.state, s.stateName)
	ns := n.Data.fs.ns
	fmt.Fprintf(&b, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t%d\n", s.ps.PID, ns.IDOfTask(t), s.ps.PPID, ns.IDOfTask(t.Tracer()))
	fmt.Fprintf(&b, "Uid:\t%d\t%d\t%d\t%d\n", c.RealKUID, c.EffectiveKUID, c.SavedKUID, c.FilesystemKUID)
	fmt.Fprintf(&b, "Gid:\t%d\t%d\t%d\t%d\n", c.RealKGID, c.EffectiveKGID, c.SavedKGID, c.FilesystemKGID)
	fdSize := 0
	if s.alive && s.res.FDs != nil {
		fdSize = 64
		for fdSize < s.res.FDs.Len() {
			fdSize *= 2
		}
	}
	fmt.Fprintf(&b, "FDSize:\t%d\nGroups:\t", fdSize)
	for _, g := range c.ExtraKGIDs {
		fmt.Fprintf(&b, "%d ", g)
	}
	// The ids from this /proc's namespace down to the task's own.
	b.WriteString("\nNStgid:")
	for _, id := range ns.GroupIDs(n.Data.tg) {
		fmt.Fprintf(&b, "\t%d", id)
	}
	b.WriteString("\nNSpid:")
	for _, id := range ns.IDs(t) {
		fmt.Fprintf(&b, "\t%d", id)
	}
	fmt.Fprintf(&b, "\nNSpgid:\t%d\nNSsid:\t%d\n", s.ps.PGID, s.ps.SID)
	if s.alive && s.res.MM != nil {
		st := s.res.MM.Stats()
		kb := func(name string, v uint64) { fmt.Fprintf(&b, "%s:\t%8d kB\n", name, v>>10) }
		kb("VmPeak", st.VirtualSize)
		kb("VmSize", st.VirtualSize)
		kb("VmLck", 0)
		kb("VmPin", 0)
		kb("VmHWM", st.Resident)
		kb("VmRSS", st.Resident)
		kb("RssAnon", st.ResidentAnon)
		kb("RssFile", st.ResidentFile)
		kb("RssShmem", 0)
		kb("VmData", st.Data)
		kb("VmStk", st.Stack)
		kb("VmExe", st.Exec)
		kb("VmLib", 0)
		kb("VmPTE", 0)
		kb("VmSwap", 0)
		kb("HugetlbPages", 0)
	}
	threads := s.ps.NumThreads
	if threads == 0 {
		threads = 1
	}
	sigq := n.Data.tg.Limits().Get(unix.RLIMIT_SIGPENDING).Cur
	fmt.Fprintf(&b, "CoreDumping:\t0\nTHP_enabled:\t1\nThreads:\t%d\nSigQ:\t0/%d\n", threads, sigq)
	pend, shared := t.PendingSignalSets()
	ignored, caught := n.Data.tg.SignalDispositions()
	fmt.Fprintf(&b, "SigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n",
		pend, shared, t.SignalMask(), ignored, caught)
	fmt.Fprintf(&b, "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\n",
		uint64(c.InheritableCaps), uint64(c.PermittedCaps), uint64(c.EffectiveCaps), uint64(c.BoundingCaps), uint64(c.AmbientCaps))
	fmt.Fprintf(&b, "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n")
	ncpu := n.Data.fs.k.NumCPU()
	fmt.Fprintf(&b, "Cpus_allowed:\t%s\nCpus_allowed_list:\t%s\n", cpuMask(ncpu), cpuList(ncpu))
	fmt.Fprintf(&b, "Mems_allowed:\t00000001\nMems_allowed_list:\t0\n")
	fmt.Fprintf(&b, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n")
	return b.Bytes(), nil
}

// escapeName escapes a comm for status's Name line as Linux does.
func escapeName(s string) string {
	if !strings.ContainsAny(s, "\n\\") {
		return s
	}
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(s)
}

// cpuMask returns Cpus_allowed for n CPUs: hex, in 32-bit words separated
// by commas.
func cpuMask(n int) string {
	var words []string
	for base := 0; base < n || base == 0; base += 32 {
		var w uint32
		for i := base; i < n && i < base+32; i++ {
			w |= 1 << uint(i-base)
		}
		words = append([]string{fmt.Sprintf("%08x", w)}, words...)
	}
	s := strings.Join(words, ",")
	// Linux prints the leading word without zero padding beyond what the
	// CPU count needs.
	digits := (n + 3) / 4
	if digits < 1 {
		digits = 1
	}
	if n <= 32 {
		return s[len(s)-digits:]
	}
	return s
}

// cpuList returns Cpus_allowed_list for n CPUs ("0-3").
func cpuList(n int) string {
	if n <= 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", n-1)
}

// readArea reads [start, end) of the task's memory as ptrace would.
func readArea(s *snapshot, start, end uint64) []byte {
	if !s.alive || s.res.MM == nil || end <= start {
		return nil
	}
	const maxArea = 1 << 21
	if end-start > maxArea {
		end = start + maxArea
	}
	buf := make([]byte, end-start)
	n, _ := s.res.MM.CopyInForce(start, buf)
	return buf[:n]
}

// genCmdline returns the argv area. As Linux, if the process overwrote
// the final NUL of its arguments (setproctitle), the string continues into
// the environment area up to its first NUL.
func genCmdline(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if !s.alive || s.res.MM == nil {
		return nil, nil
	}
	as, ae, es, ee := s.res.MM.ArgvEnv()
	b := readArea(s, as, ae)
	if len(b) > 0 && b[len(b)-1] != 0 {
		if ae == es {
			env := readArea(s, es, ee)
			if i := bytes.IndexByte(env, 0); i >= 0 {
				env = env[:i]
			}
			b = append(b, env...)
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	}
	return b, nil
}

func genEnviron(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if !s.alive || s.res.MM == nil {
		return nil, nil
	}
	_, _, es, ee := s.res.MM.ArgvEnv()
	return readArea(s, es, ee), nil
}

func genAuxv(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if !s.alive || s.res.MM == nil {
		return nil, nil
	}
	aux := s.res.MM.Auxv()
	b := make([]byte, 0, 8*len(aux))
	for _, v := range aux {
		for i := 0; i < 8; i++ {
			b = append(b, byte(v>>(8*i)))
		}
	}
	return b, nil
}

func genComm(ctx vfs.Context, n *inode) ([]byte, error) {
	t := n.Data.task()
	if t == nil {
		return nil, unix.ESRCH
	}
	return []byte(t.Name() + "\n"), nil
}

// writeComm sets the thread's name; as Linux, only threads of the same
// process may (EINVAL otherwise).
func writeComm(ctx vfs.Context, n *inode, data []byte) error {
	self := callerTask(ctx)
	if self == nil || self.ThreadGroup() != n.Data.tg {
		return unix.EINVAL
	}
	t := n.Data.task()
	if t == nil {
		return unix.ESRCH
	}
	name := string(data)
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimSuffix(name, "\n")
	t.SetName(name)
	return nil
}

func genOOMScoreAdj(_ vfs.Context, n *inode) ([]byte, error) {
	n.Data.fs.mu.Lock()
	v, ok := n.Data.fs.oomScoreAdj[n.Data.tg]
	n.Data.fs.mu.Unlock()
	if !ok {
		v = n.Data.fs.defaultOOMScoreAdj
	}
	return []byte(strconv.Itoa(v) + "\n"), nil
}

// writeOOMScoreAdj records a new oom_score_adj (-1000..1000; lowering it
// needs CAP_SYS_RESOURCE, as Linux). The sandbox never OOM-kills by score,
// so the value is only reported back.
func writeOOMScoreAdj(ctx vfs.Context, n *inode, data []byte) error {
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || v < -1000 || v > 1000 {
		return unix.EINVAL
	}
	n.Data.fs.mu.Lock()
	defer n.Data.fs.mu.Unlock()
	old, ok := n.Data.fs.oomScoreAdj[n.Data.tg]
	if !ok {
		old = n.Data.fs.defaultOOMScoreAdj
	}
	if v < old && !ctx.Credentials().HasCapability(capSysResource) {
		return unix.EACCES
	}
	n.Data.fs.oomScoreAdj[n.Data.tg] = v
	return nil
}

// capSysResource is CAP_SYS_RESOURCE.
const capSysResource = 24

// genUIDMap and genGIDMap show the sandbox's user namespace: the
// identity over every id, or, when the sandbox process runs in a user
// namespace of its own, that namespace's maps (Options.UIDMap, GIDMap).
func genUIDMap(_ vfs.Context, n *inode) ([]byte, error) { return genIDMap(n.Data.fs.uidMap), nil }

func genGIDMap(_ vfs.Context, n *inode) ([]byte, error) { return genIDMap(n.Data.fs.gidMap), nil }

func genIDMap(m []IDMapEntry) []byte {
	if len(m) == 0 {
		return []byte(fmt.Sprintf("%10d %10d %10d\n", 0, 0, uint64(4294967295)))
	}
	var b []byte
	for _, e := range m {
		b = fmt.Appendf(b, "%10d %10d %10d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b
}

// limitNames are /proc/[pid]/limits' rows, indexed by RLIMIT_*.
var limitNames = [...]struct{ name, unit string }{
	{"Max cpu time", "seconds"},
	{"Max file size", "bytes"},
	{"Max data size", "bytes"},
	{"Max stack size", "bytes"},
	{"Max core file size", "bytes"},
	{"Max resident set", "bytes"},
	{"Max processes", "processes"},
	{"Max open files", "files"},
	{"Max locked memory", "bytes"},
	{"Max address space", "bytes"},
	{"Max file locks", "locks"},
	{"Max pending signals", "signals"},
	{"Max msgqueue size", "bytes"},
	{"Max nice priority", ""},
	{"Max realtime priority", ""},
	{"Max realtime timeout", "us"},
}

func genLimits(ctx vfs.Context, n *inode) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	l := n.Data.tg.Limits()
	val := func(v uint64) string {
		if v == kernel.Infinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	for i, ln := range limitNames {
		r := l.Get(i)
		fmt.Fprintf(&b, "%-25s %-20s %-20s ", ln.name, val(r.Cur), val(r.Max))
		if ln.unit != "" {
			fmt.Fprintf(&b, "%-10s", ln.unit)
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

func genMaps(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if !s.alive || s.res.MM == nil {
		return nil, nil
	}
	return []byte(s.res.MM.MapsText()), nil
}

func genSmaps(ctx vfs.Context, n *inode) ([]byte, error) {
	s, err := n.Data.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if !s.alive || s.res.MM == nil {
		return nil, nil
	}
	return []byte(s.res.MM.SmapsText()), nil
}

// taskRoot returns a reference to the root of the node's task, or ok ==
// false when it has none (exited).
func (p *node) taskRoot() (vfs.VirtualDentry, bool) {
	t := p.task()
	if t == nil {
		return vfs.VirtualDentry{}, false
	}
	r, alive := t.Resources()
	if !alive || r.FS == nil {
		return vfs.VirtualDentry{}, false
	}
	root := r.FS.Root()
	if !root.Ok() {
		return vfs.VirtualDentry{}, false
	}
	return root, true
}

// callerRoot returns a reference to the caller's root (the tree's root for
// the boot code).
func (fs *Filesystem) callerRoot(ctx vfs.Context) vfs.VirtualDentry {
	if t := callerTask(ctx); t != nil {
		if root := t.FSContext().Root(); root.Ok() {
			return root
		}
	}
	return fs.k.VFS.Root()
}

// mountOptions returns the mount options column of a mount.
func mountOptions(mi *vfs.MountInfo) string {
	s := "rw"
	if mi.ReadOnly {
		s = "ro"
	}
	if mi.Options.NoSuid {
		s += ",nosuid"
	}
	if mi.Options.NoDev {
		s += ",nodev"
	}
	if mi.Options.NoExec {
		s += ",noexec"
	}
	return s + ",relatime"
}

// superOptions returns the filesystem-specific options column of
// mountinfo (and the options of /proc/mounts after the per-mount ones).
func superOptions(mi *vfs.MountInfo) string {
	s := "rw"
	if mi.ReadOnly {
		s = "ro"
	}
	if mi.Data != "" {
		s += "," + mi.Data
	}
	return s
}

// mountType returns the filesystem type column of a mount: the name its
// creator gave it (config.json's type) or the filesystem's own.
func mountType(mi *vfs.MountInfo) string {
	if mi.Type != "" {
		return mi.Type
	}
	return mi.Filesystem.Name()
}

// mountSource returns the "device" column of a mount: the source its
// creator gave it (config.json's source), or the filesystem's default.
func mountSource(mi *vfs.MountInfo) string {
	if mi.Source != "" {
		return mi.Source
	}
	switch name := mi.Filesystem.Name(); name {
	case "devtmpfs":
		return "udev"
	case "9p": // the gofer-served root (fs/gofer)
		return "none"
	default:
		return name
	}
}

// escapeMountPath escapes a path in /proc/mounts as Linux's mangle does.
func escapeMountPath(p string) string {
	if !strings.ContainsAny(p, " \t\n\\") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// processMounts returns the mounts as seen from the node's task's root.
func (p *node) processMounts() ([]vfs.MountInfo, error) {
	root, ok := p.taskRoot()
	if !ok {
		return nil, nil
	}
	defer root.DecRef()
	return p.fs.k.VFS.Mounts(root), nil
}

func genMounts(ctx vfs.Context, n *inode) ([]byte, error) {
	ms, err := n.Data.processMounts()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for i := range ms {
		mi := &ms[i]
		opts := mountOptions(mi)
		if mi.Data != "" {
			opts += "," + mi.Data
		}
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", escapeMountPath(mountSource(mi)), escapeMountPath(mi.Point), mountType(mi), opts)
	}
	return b.Bytes(), nil
}

func genMountinfo(ctx vfs.Context, n *inode) ([]byte, error) {
	ms, err := n.Data.processMounts()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for i := range ms {
		mi := &ms[i]
		var dev uint64
		if st, err := mi.Root.Dentry().Inode().Stat(ctx); err == nil {
			dev = st.Dev
		}
		fmt.Fprintf(&b, "%d %d %d:%d %s %s %s - %s %s %s\n", mi.ID, mi.ParentID, unix.Major(dev), unix.Minor(dev),
			escapeMountPath(mi.FSRoot), escapeMountPath(mi.Point), mountOptions(mi), mountType(mi), escapeMountPath(mountSource(mi)), superOptions(mi))
	}
	return b.Bytes(), nil
}

func genMountstats(ctx vfs.Context, n *inode) ([]byte, error) {
	ms, err := n.Data.processMounts()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for i := range ms {
		mi := &ms[i]
		fmt.Fprintf(&b, "device %s mounted on %s with fstype %s\n", escapeMountPath(mountSource(mi)), escapeMountPath(mi.Point), mountType(mi))
	}
	return b.Bytes(), nil
}

// Links: exe, cwd, root.

func linkExe(ctx vfs.Context, n *inode) (string, error) {
	if err := mayPtrace(ctx, &n.Data); err != nil {
		return "", err
	}
	t := n.Data.task()
	if t == nil || !t.Alive() {
		return "", unix.ENOENT
	}
	p := t.Image().Path
	if p == "" {
		return "", unix.ENOENT
	}
	return p, nil
}

func linkCwd(ctx vfs.Context, n *inode) (string, error) {
	return n.Data.fsLink(ctx, false)
}

func linkRoot(ctx vfs.Context, n *inode) (string, error) {
	return n.Data.fsLink(ctx, true)
}

// fsMagic returns a reference to the task's root or cwd, where following
// /proc/[pid]/root or cwd lands.
func (p *node) fsMagic(ctx vfs.Context, wantRoot bool) (vfs.VirtualDentry, *vfs.FileDescription, error) {
	if err := mayPtrace(ctx, p); err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	t := p.task()
	if t == nil {
		return vfs.VirtualDentry{}, nil, unix.ENOENT
	}
	r, alive := t.Resources()
	if !alive || r.FS == nil {
		return vfs.VirtualDentry{}, nil, unix.ENOENT
	}
	var vd vfs.VirtualDentry
	if wantRoot {
		vd = r.FS.Root()
	} else {
		vd = r.FS.Cwd()
	}
	if !vd.Ok() {
		return vfs.VirtualDentry{}, nil, unix.ENOENT
	}
	return vd, nil, nil
}

// fsLink returns the path of the task's root or cwd as the caller sees it.
func (p *node) fsLink(ctx vfs.Context, wantRoot bool) (string, error) {
	if err := mayPtrace(ctx, p); err != nil {
		return "", err
	}
	t := p.task()
	if t == nil {
		return "", unix.ENOENT
	}
	r, alive := t.Resources()
	if !alive || r.FS == nil {
		return "", unix.ENOENT
	}
	var vd vfs.VirtualDentry
	if wantRoot {
		vd = r.FS.Root()
	} else {
		vd = r.FS.Cwd()
	}
	if !vd.Ok() {
		return "", unix.ENOENT
	}
	defer vd.DecRef()
	root := p.fs.callerRoot(ctx)
	defer root.DecRef()
	return p.fs.k.VFS.PathnameWithin(root, vd), nil
}

// nsDir is /proc/[pid]/ns: the task's PID namespace and that of its next
// children. readlink shows "pid:[inode]", which tells namespaces apart;
// there is no namespace filesystem behind them (setns is not
// implemented), so opening one fails with ENOENT.
var nsDir = staticDir{
	magicEntry("pid", func(ctx vfs.Context, n *inode) (string, error) {
		return linkNS(ctx, n, (*kernel.Task).PIDNamespace)
	}, noNSFile),
	magicEntry("pid_for_children", func(ctx vfs.Context, n *inode) (string, error) {
		return linkNS(ctx, n, (*kernel.Task).ChildPIDNamespace)
	}, noNSFile),
}

func linkNS(ctx vfs.Context, n *inode, which func(*kernel.Task) *kernel.PIDNamespace) (string, error) {
	if err := mayPtrace(ctx, &n.Data); err != nil {
		return "", err
	}
	t := n.Data.task()
	if t == nil || !t.Alive() {
		return "", unix.ENOENT
	}
	ns := which(t)
	if ns == nil {
		return "", unix.ENOENT
	}
	return fmt.Sprintf("pid:[%d]", ns.Inode()), nil
}

func noNSFile(vfs.Context, *inode) (vfs.VirtualDentry, *vfs.FileDescription, error) {
	return vfs.VirtualDentry{}, nil, unix.ENOENT
}
