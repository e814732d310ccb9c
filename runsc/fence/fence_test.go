//go:build linux && amd64

package fence

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
)

// TestHostNetworkRules pins what --network=host adds.
func TestHostNetworkRules(t *testing.T) {
	base := map[string]bool{}
	for _, r := range Rules(Options{}) {
		base[r.Name] = true
	}
	var added []string
	for _, r := range Rules(Options{HostNetwork: true}) {
		if !base[r.Name] {
			added = append(added, r.Name)
		}
	}
	want := []string{"socket", "bind", "connect", "listen", "getpeername", "setsockopt"}
	if fmt.Sprint(added) != fmt.Sprint(want) {
		t.Errorf("--network=host adds %v, want %v", added, want)
	}
	if _, err := Program(Rules(Options{HostNetwork: true}), RetKillProcess); err != nil {
		t.Fatal(err)
	}
}

// TestHostUDSRules pins what --host-uds=create adds, alone and with
// --network=host (which has it already).
func TestHostUDSRules(t *testing.T) {
	base := map[string]bool{}
	for _, r := range Rules(Options{}) {
		base[r.Name] = true
	}
	var added []string
	for _, r := range Rules(Options{HostUDS: true}) {
		if !base[r.Name] {
			added = append(added, r.Name)
		}
	}
	if want := []string{"listen"}; fmt.Sprint(added) != fmt.Sprint(want) {
		t.Errorf("--host-uds adds %v, want %v", added, want)
	}
	both := Rules(Options{HostUDS: true, HostNetwork: true})
	if n, m := len(both), len(Rules(Options{HostNetwork: true})); n != m {
		t.Errorf("--host-uds with --network=host: %d rules, want %d (no duplicate)", n, m)
	}
	for _, o := range []Options{{HostUDS: true}, {HostUDS: true, HostNetwork: true}} {
		if _, err := Program(Rules(o), RetKillProcess); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRules pins the sentry's allow-list: adding a syscall must change
// this list too, in review (runsc/fence/README.md).
func TestRules(t *testing.T) {
	want := map[string]uintptr{
		"ptrace": unix.SYS_PTRACE, "wait4": unix.SYS_WAIT4, "futex": unix.SYS_FUTEX,
		"tgkill": unix.SYS_TGKILL, "getcpu": unix.SYS_GETCPU,
		"sched_setaffinity": unix.SYS_SCHED_SETAFFINITY, "kill": unix.SYS_KILL,
		"read": unix.SYS_READ, "write": unix.SYS_WRITE, "pread64": unix.SYS_PREAD64,
		"pwrite64": unix.SYS_PWRITE64, "readv": unix.SYS_READV, "writev": unix.SYS_WRITEV,
		"preadv": unix.SYS_PREADV, "pwritev": unix.SYS_PWRITEV, "recvmsg": unix.SYS_RECVMSG,
		"sendmsg": unix.SYS_SENDMSG, "epoll_pwait": unix.SYS_EPOLL_PWAIT,
		"epoll_wait": unix.SYS_EPOLL_WAIT, "epoll_ctl": unix.SYS_EPOLL_CTL, "poll": unix.SYS_POLL,
		"ppoll": unix.SYS_PPOLL, "lseek": unix.SYS_LSEEK, "sendfile": unix.SYS_SENDFILE, "fstat": unix.SYS_FSTAT,
		"fcntl": unix.SYS_FCNTL, "ioctl": unix.SYS_IOCTL, "fsync": unix.SYS_FSYNC,
		"fdatasync": unix.SYS_FDATASYNC, "ftruncate": unix.SYS_FTRUNCATE,
		"fallocate": unix.SYS_FALLOCATE, "close": unix.SYS_CLOSE, "shutdown": unix.SYS_SHUTDOWN,
		"accept4": unix.SYS_ACCEPT4, "getsockopt": unix.SYS_GETSOCKOPT, "getsockname": unix.SYS_GETSOCKNAME,
		"mmap": unix.SYS_MMAP, "munmap": unix.SYS_MUNMAP, "madvise": unix.SYS_MADVISE, "mincore": unix.SYS_MINCORE,
		"mprotect": unix.SYS_MPROTECT, "clone": unix.SYS_CLONE, "sched_yield": unix.SYS_SCHED_YIELD,
		"nanosleep": unix.SYS_NANOSLEEP, "clock_nanosleep": unix.SYS_CLOCK_NANOSLEEP,
		"clock_gettime": unix.SYS_CLOCK_GETTIME, "clock_getres": unix.SYS_CLOCK_GETRES,
		"gettid": unix.SYS_GETTID, "getpid": unix.SYS_GETPID, "rt_sigaction": unix.SYS_RT_SIGACTION,
		"rt_sigprocmask": unix.SYS_RT_SIGPROCMASK, "rt_sigreturn": unix.SYS_RT_SIGRETURN,
		"sigaltstack": unix.SYS_SIGALTSTACK, "restart_syscall": unix.SYS_RESTART_SYSCALL,
		"epoll_create1": unix.SYS_EPOLL_CREATE1, "eventfd2": unix.SYS_EVENTFD2, "pipe2": unix.SYS_PIPE2,
		"sched_getaffinity": unix.SYS_SCHED_GETAFFINITY, "getrlimit": unix.SYS_GETRLIMIT,
		"getrandom": unix.SYS_GETRANDOM, "prctl": unix.SYS_PRCTL, "exit": unix.SYS_EXIT, "exit_group": unix.SYS_EXIT_GROUP,
		"sysinfo": unix.SYS_SYSINFO, "getuid": unix.SYS_GETUID, "getgid": unix.SYS_GETGID,
		"getgroups": unix.SYS_GETGROUPS,
	}
	var extra, missing []string
	got := map[string]bool{}
	for _, r := range Rules(Options{}) {
		got[r.Name] = true
		nr, ok := want[r.Name]
		switch {
		case !ok:
			extra = append(extra, r.Name)
		case nr != r.Nr:
			t.Errorf("rule %q has number %d, want %d", r.Name, r.Nr, nr)
		}
	}
	for name := range want {
		if !got[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 {
		t.Errorf("the sentry's seccomp allow-list changed: added %s; removed %s (update this test and README.md if intended)",
			strings.Join(extra, ","), strings.Join(missing, ","))
	}
}

// TestProgram runs the built filter in the sentry's cBPF interpreter.
func TestProgram(t *testing.T) {
	for _, deny := range []uint32{RetKillProcess, RetTrap} {
		prog, err := Program(Rules(Options{MemoryFD: 9}), deny)
		if err != nil {
			t.Fatal(err)
		}
		insns := make([]bpf.Instruction, len(prog))
		for i, in := range prog {
			insns[i] = bpf.Instruction{Code: in.Code, JT: in.Jt, JF: in.Jf, K: in.K}
		}
		p, err := bpf.CompileSeccomp(insns)
		if err != nil {
			t.Fatalf("the kernel would refuse the filter: %v", err)
		}
		const x86 = auditArchX86_64
		for _, c := range []struct {
			name string
			arch uint32
			nr   int32
			args [6]uint64
			want uint32
		}{
			{"futex", x86, unix.SYS_FUTEX, [6]uint64{}, RetAllow},
			{"getgroups (last)", x86, unix.SYS_GETGROUPS, [6]uint64{}, RetAllow},
			{"other arch", 0x40000003, unix.SYS_FUTEX, [6]uint64{}, deny},
			{"x32", x86, unix.SYS_FUTEX | x32SyscallBit, [6]uint64{}, deny},
			{"openat", x86, unix.SYS_OPENAT, [6]uint64{}, deny},
			{"execve", x86, unix.SYS_EXECVE, [6]uint64{}, deny},
			{"socket", x86, unix.SYS_SOCKET, [6]uint64{unix.AF_INET}, deny},
			{"clone thread", x86, unix.SYS_CLONE, [6]uint64{goThreadCloneFlags | unix.CLONE_SETTLS}, RetAllow},
			{"clone thread, no TLS", x86, unix.SYS_CLONE, [6]uint64{goThreadCloneFlags}, RetAllow},
			{"clone fork", x86, unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD)}, deny},
			{"clone high bits", x86, unix.SYS_CLONE, [6]uint64{goThreadCloneFlags | 1<<32}, deny},
			{"clone3", x86, unix.SYS_CLONE3, [6]uint64{}, deny},
			{"mmap rw", x86, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE}, RetAllow},
			{"mmap exec", x86, unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC}, deny},
			{"mprotect exec", x86, unix.SYS_MPROTECT, [6]uint64{0, 4096, unix.PROT_EXEC}, deny},
			{"ioctl TCGETS", x86, unix.SYS_IOCTL, [6]uint64{0, unix.TCGETS}, RetAllow},
			{"ioctl FIONREAD", x86, unix.SYS_IOCTL, [6]uint64{5, fionread}, RetAllow},
			{"ioctl TIOCSTI", x86, unix.SYS_IOCTL, [6]uint64{0, unix.TIOCSTI}, deny},
			{"kill SIGKILL", x86, unix.SYS_KILL, [6]uint64{7, uint64(unix.SIGKILL)}, RetAllow},
			{"kill SIGTERM", x86, unix.SYS_KILL, [6]uint64{7, uint64(unix.SIGTERM)}, deny},
			{"prctl PR_SET_VMA", x86, unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA, unix.PR_SET_VMA_ANON_NAME}, RetAllow},
			{"prctl PR_SET_VMA other", x86, unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA, 1}, deny},
			{"prctl PR_SET_DUMPABLE", x86, unix.SYS_PRCTL, [6]uint64{unix.PR_SET_DUMPABLE, 0}, deny},
			{"prctl PR_SET_SECCOMP", x86, unix.SYS_PRCTL, [6]uint64{unix.PR_SET_SECCOMP, 2}, deny},
			{"ptrace SYSEMU", x86, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_SYSEMU}, RetAllow},
			{"ptrace ATTACH", x86, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_ATTACH}, deny},
			{"ptrace POKEDATA", x86, unix.SYS_PTRACE, [6]uint64{unix.PTRACE_POKEDATA}, deny},
			{"sendfile into the memory file", x86, unix.SYS_SENDFILE, [6]uint64{9, 12, 0, 4096}, RetAllow},
			{"sendfile elsewhere", x86, unix.SYS_SENDFILE, [6]uint64{1, 12, 0, 4096}, deny},
		} {
			d := bpf.SeccompData{Nr: c.nr, Arch: c.arch, Args: c.args}
			if got := p.Run(&d); got != c.want {
				t.Errorf("deny=%#x: %s: got %#x, want %#x", deny, c.name, got, c.want)
			}
		}
	}
}

// TestProgramRejectsDuplicates: one syscall, one rule.
func TestProgramRejectsDuplicates(t *testing.T) {
	rules := []Rule{{unix.SYS_READ, "read", nil}, {unix.SYS_READ, "read", nil}}
	if _, err := Program(rules, RetKillProcess); err == nil {
		t.Error("a syscall listed twice was accepted")
	}
}

// TestFilterEnforced runs the test binary again with the filter
// installed: the Go runtime keeps working (GC, timers, new threads,
// goroutines blocked in syscalls), and a syscall outside the list kills
// the process with SIGSYS.
func TestFilterEnforced(t *testing.T) {
	if raceEnabled {
		t.Skip("the race runtime needs syscalls outside the allow-list; run without -race")
	}
	if mode := os.Getenv("FENCE_FILTER_CHILD"); mode != "" {
		filterChild(mode)
		return
	}
	for _, c := range []struct {
		mode   string
		killed bool
	}{{"ok", false}, {"openat", true}, {"socket", true}, {"execve", true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFilterEnforced$")
		// GOGC=off until the filter is in place (filterChild).
		cmd.Env = append(os.Environ(), "FENCE_FILTER_CHILD="+c.mode, "GOGC=off")
		out, err := cmd.CombinedOutput()
		ee, _ := err.(*exec.ExitError)
		switch {
		case c.killed && (ee == nil || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGSYS):
			t.Errorf("%s: not killed by SIGSYS: %v %s", c.mode, err, out)
		case !c.killed && err != nil:
			t.Errorf("%s: %v %s", c.mode, err, out)
		}
	}
}

func filterChild(mode string) {
	// The first GC cycle of the process (which starts the background
	// mark workers) must come under the filter: InstallFilter forces
	// none, and GOGC=off let nothing run one before.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.NumGC != 0 {
		fmt.Println("a GC cycle ran before the filter:", ms.NumGC)
		os.Exit(6)
	}
	if err := InstallFilter(Options{}); err != nil {
		fmt.Println("install:", err)
		os.Exit(3)
	}
	// Cycles started by allocation (background marking, assists), then
	// forced ones.
	if bpftest.GCUnderFilter() == 0 {
		fmt.Println("no GC cycle under the filter")
		os.Exit(7)
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
		done := make(chan bool)
		go func() { runtime.LockOSThread(); done <- true }()
		<-done
	}
	// A goroutine blocked in a pipe read while others run.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		os.Exit(4)
	}
	go unix.Write(p[1], []byte("x"))
	var b [1]byte
	if n, err := unix.Read(p[0], b[:]); n != 1 || err != nil {
		os.Exit(5)
	}
	// What the Go runtime does on kernels with CONFIG_ANON_VMA_NAME (an
	// EINVAL here otherwise, but never a kill).
	unix.Syscall6(unix.SYS_PRCTL, unix.PR_SET_VMA, unix.PR_SET_VMA_ANON_NAME, 0, 4096, 0, 0)
	switch mode {
	case "openat":
		unix.Open("/etc/passwd", unix.O_RDONLY, 0)
	case "socket":
		unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	case "execve":
		syscall.Exec("/bin/true", []string{"true"}, nil)
	}
	os.Exit(0)
}

// TestApply fences a child process in a new mount namespace: its root is
// empty and read-only, its capability sets are empty and no_new_privs is
// set. It needs root.
func TestApply(t *testing.T) {
	if os.Getenv("FENCE_APPLY_CHILD") == "1" {
		applyChild()
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root (mount, pivot_root)")
	}
	if raceEnabled {
		t.Skip("the race runtime links cgo, and AllThreadsSyscall refuses cgo binaries; run without -race")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestApply$", "-test.v")
	cmd.Env = append(os.Environ(), "FENCE_APPLY_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fenced ok") {
		t.Errorf("fenced child: %v\n%s", err, out)
	}
}

func applyChild() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(1)
	}
	// Credentials are per thread: several threads exist when Apply runs
	// (some parked, locked to their thread), and each is checked after
	// it through /proc/self/task, opened before.
	parked := make(chan struct{})
	defer close(parked)
	for i := 0; i < 4; i++ {
		started := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(started)
			<-parked
		}()
		<-started
	}
	tasks, err := os.Open("/proc/self/task")
	if err != nil {
		fail("%v", err)
	}
	if err := Apply(); err != nil {
		fail("apply: %v", err)
	}
	tids, err := tasks.Readdirnames(-1)
	if err != nil || len(tids) < 5 {
		fail("threads: %v %v", tids, err)
	}
	for _, tid := range tids {
		fd, err := unix.Openat(int(tasks.Fd()), tid+"/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fail("thread %s: %v", tid, err)
		}
		st := os.NewFile(uintptr(fd), "status")
		b, err := io.ReadAll(st)
		st.Close()
		if err != nil {
			fail("thread %s: %v", tid, err)
		}
		for _, want := range []string{"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
			"CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
			if !strings.Contains(string(b), want+"\n") {
				fail("thread %s: no %q in\n%s", tid, want, b)
			}
		}
	}
	// The root holds only the read-only procfs (mountProc).
	ents, err := os.ReadDir("/")
	if err != nil || len(ents) != 1 || ents[0].Name() != "proc" {
		fail("root: %v %v", ents, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc", &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC || fs.Flags&unix.ST_RDONLY == 0 {
		fail("/proc: not a read-only procfs: type %#x flags %#x %v", fs.Type, fs.Flags, err)
	}
	if f, err := os.OpenFile("/proc/sys/kernel/hostname", os.O_WRONLY, 0); err == nil || !errors.Is(err, unix.EROFS) {
		f.Close()
		fail("/proc/sys/kernel/hostname opened for writing: %v", err)
	}
	for _, p := range []string{"/etc/passwd", "../etc/passwd", "/proc/../etc/passwd"} {
		if _, err := os.Stat(p); err == nil {
			fail("%s is reachable", p)
		}
	}
	if err := os.Mkdir("/x", 0o700); err == nil {
		fail("the empty root is writable")
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		fail("capget: %v", err)
	}
	if data[0] != (unix.CapUserData{}) || data[1] != (unix.CapUserData{}) {
		fail("capabilities left: %+v", data)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if r, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); r != 0 {
			fail("capability %d still in the bounding set", c)
		}
	}
	if r, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); r != 1 {
		fail("no_new_privs not set")
	}
	fmt.Println("fenced ok")
	os.Exit(0)
}
