package kernel

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// seccompGroup makes a process of n tasks that never run, enough for the
// seccomp state and verdicts.
func seccompGroup(n int) (*Kernel, *ThreadGroup, []*Task) {
	k := New(Config{})
	tg := &ThreadGroup{k: k, handlers: &SignalHandlers{}, tasks: make(map[*Task]struct{}), pid: 100, ids: []ThreadID{100}, ns: k.root, limits: DefaultLimits()}
	// A core-dumping death reports a core only when RLIMIT_CORE allows one.
	tg.limits.Set(unix.RLIMIT_CORE, unix.Rlimit{Cur: Infinity, Max: Infinity})
	var ts []*Task
	for i := 0; i < n; i++ {
		tid := ThreadID(100 + i)
		t := &Task{k: k, tg: tg, tid: tid, ids: []ThreadID{tid}, ns: k.root, childNS: k.root, interruptCh: make(chan struct{}, 1)}
		t.creds.Store(auth.NewUserCredentials(1000, 1000, nil))
		tg.tasks[t] = struct{}{}
		ts = append(ts, t)
	}
	tg.leader = ts[0]
	return k, tg, ts
}

// oneSyscall compiles "syscall nr returns ret, others are allowed".
func oneSyscall(t *testing.T, nr int, ret uint32) *bpf.Program {
	t.Helper()
	p, err := bpf.CompileSeccomp([]bpf.Instruction{
		bpf.Stmt(bpf.ClassLD|bpf.SizeW|bpf.ModeABS, 0),
		bpf.Jump(bpf.ClassJMP|bpf.JmpJEQ|bpf.SrcK, uint32(nr), 0, 1),
		bpf.Stmt(bpf.ClassRET|bpf.SrcK, ret),
		bpf.Stmt(bpf.ClassRET|bpf.SrcK, unix.SECCOMP_RET_ALLOW),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// verdict runs task's filters on syscall nr and returns whether it runs
// and the return register.
func verdict(task *Task, nr int) (bool, int64) {
	task.regs.Orig_rax = uint64(nr)
	task.regs.Rax = ^uint64(0)
	f := task.seccomp.Load()
	if f == nil {
		return true, 0
	}
	ok := task.seccompAllows(f, uintptr(nr))
	return ok, int64(task.regs.Rax)
}

func TestSeccompVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ret    uint32
		runs   bool
		rax    int64
		killed bool
		status WaitStatus
	}{
		{"allow", unix.SECCOMP_RET_ALLOW, true, -1, false, 0},
		{"log", unix.SECCOMP_RET_LOG, true, -1, false, 0},
		{"errno", unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM), false, -int64(unix.EPERM), false, 0},
		{"errno capped", unix.SECCOMP_RET_ERRNO | 0xffff, false, -4095, false, 0},
		{"errno zero", unix.SECCOMP_RET_ERRNO, false, 0, false, 0},
		{"trace", unix.SECCOMP_RET_TRACE, false, -int64(unix.ENOSYS), false, 0},
		{"user notif", unix.SECCOMP_RET_USER_NOTIF, false, -int64(unix.ENOSYS), false, 0},
		{"kill process", unix.SECCOMP_RET_KILL_PROCESS, false, 39, true, Signaled(int(unix.SIGSYS), true)},
		{"unknown action kills", 0x00010000, false, 39, true, Signaled(int(unix.SIGSYS), true)},
		{"kill thread of one", unix.SECCOMP_RET_KILL_THREAD, false, -1, true, Signaled(int(unix.SIGSYS), true)},
	} {
		_, tg, ts := seccompGroup(1)
		task := ts[0]
		task.SetNoNewPrivs()
		if _, err := task.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, tc.ret), 0); err != nil {
			t.Fatalf("%s: AppendSeccompFilter: %v", tc.name, err)
		}
		runs, rax := verdict(task, unix.SYS_GETPID)
		if runs != tc.runs || (!runs && !tc.killed && rax != tc.rax) {
			t.Errorf("%s: runs %v rax %d, want %v %d", tc.name, runs, rax, tc.runs, tc.rax)
		}
		if task.Killed() != tc.killed || (tc.killed && tg.status != tc.status) {
			t.Errorf("%s: killed %v status %#x, want %v %#x", tc.name, task.Killed(), tg.status, tc.killed, tc.status)
		}
		if runs, _ := verdict(task, unix.SYS_GETPPID); !tc.killed && !runs {
			t.Errorf("%s: getppid did not run", tc.name)
		}
	}
}

func TestSeccompPrecedence(t *testing.T) {
	_, _, ts := seccompGroup(1)
	task := ts[0]
	task.SetNoNewPrivs()
	for _, ret := range []uint32{
		unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM),
		unix.SECCOMP_RET_TRACE,
		unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES), // newest of equals wins
		unix.SECCOMP_RET_LOG,
	} {
		if _, err := task.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, ret), 0); err != nil {
			t.Fatal(err)
		}
	}
	if runs, rax := verdict(task, unix.SYS_GETPID); runs || rax != -int64(unix.EACCES) {
		t.Errorf("runs %v rax %d, want false %d", runs, rax, -int64(unix.EACCES))
	}
	if _, err := task.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_TRAP), 0); err != nil {
		t.Fatal(err)
	}
	// TRAP beats ERRNO: SIGSYS is forced on the task, and rax is the
	// syscall number again, for the handler.
	if runs, rax := verdict(task, unix.SYS_GETPID); runs || rax != unix.SYS_GETPID {
		t.Errorf("TRAP: runs %v rax %d, want false %d", runs, rax, unix.SYS_GETPID)
	}
	task.k.mu.Lock()
	next := task.deliverableLocked()
	task.k.mu.Unlock()
	if next != int(unix.SIGSYS) {
		t.Errorf("TRAP: next signal %d, want SIGSYS", next)
	}
}

func TestSeccompKillThreadOfMany(t *testing.T) {
	_, tg, ts := seccompGroup(2)
	ts[0].SetNoNewPrivs()
	ts[0].AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_KILL_THREAD), 0)
	verdict(ts[0], unix.SYS_GETPID)
	if !ts[0].Killed() || ts[1].Killed() || tg.exiting {
		t.Errorf("killed %v %v, group exiting %v; want only the caller killed", ts[0].Killed(), ts[1].Killed(), tg.exiting)
	}
}

func TestSeccompPermission(t *testing.T) {
	_, _, ts := seccompGroup(1)
	task := ts[0]
	if task.MayInstallSeccompFilter() {
		t.Errorf("unprivileged task without no_new_privs may install a filter")
	}
	task.SetCredentials(auth.NewRootCredentials())
	if !task.MayInstallSeccompFilter() {
		t.Errorf("CAP_SYS_ADMIN may not install a filter")
	}
	task.SetCredentials(auth.NewUserCredentials(1000, 1000, nil))
	task.SetNoNewPrivs()
	if !task.MayInstallSeccompFilter() {
		t.Errorf("no_new_privs may not install a filter")
	}
}

func TestSeccompTSYNC(t *testing.T) {
	_, _, ts := seccompGroup(3)
	a, b, c := ts[0], ts[1], ts[2]
	a.SetNoNewPrivs()
	a.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETUID, unix.SECCOMP_RET_ERRNO|1), 0)
	if ret, err := a.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|2), unix.SECCOMP_FILTER_FLAG_TSYNC); ret != 0 || err != nil {
		t.Fatalf("TSYNC = %d, %v", ret, err)
	}
	for _, x := range []*Task{b, c} {
		if x.seccomp.Load() != a.seccomp.Load() || !x.NoNewPrivs() || x.SeccompMode() != unix.SECCOMP_MODE_FILTER {
			t.Errorf("tid %d did not get the caller's filters and no_new_privs", x.tid)
		}
		if _, rax := verdict(x, unix.SYS_GETUID); rax != -1 {
			t.Errorf("tid %d: getuid rax %d, want -1", x.tid, rax)
		}
	}
	// c's own filter is not in a's chain: a cannot sync any more.
	c.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETGID, unix.SECCOMP_RET_ERRNO|3), 0)
	before := a.seccomp.Load()
	if ret, err := a.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|4), unix.SECCOMP_FILTER_FLAG_TSYNC); ret != uintptr(c.tid) || err != nil {
		t.Errorf("TSYNC = %d, %v; want %d", ret, err, c.tid)
	}
	if _, err := a.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|4), unix.SECCOMP_FILTER_FLAG_TSYNC|unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH); err != unix.ESRCH {
		t.Errorf("TSYNC_ESRCH = %v, want ESRCH", err)
	}
	if a.seccomp.Load() != before {
		t.Errorf("a failed TSYNC installed a filter")
	}
	// b's chain is an ancestor of a's: a newer filter on a still syncs
	// with b once c is gone.
	c.killed.Store(true)
	if ret, err := a.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|5), unix.SECCOMP_FILTER_FLAG_TSYNC); ret != 0 || err != nil {
		t.Errorf("TSYNC past an exiting thread = %d, %v", ret, err)
	}
}

func TestSeccompStrict(t *testing.T) {
	_, tg, ts := seccompGroup(1)
	task := ts[0]
	if err := task.SetSeccompStrict(); err != nil || task.SeccompMode() != unix.SECCOMP_MODE_STRICT {
		t.Fatalf("SetSeccompStrict: %v, mode %d", err, task.SeccompMode())
	}
	task.SetNoNewPrivs()
	if _, err := task.AppendSeccompFilter(oneSyscall(t, 0, unix.SECCOMP_RET_ALLOW), 0); err != unix.EINVAL {
		t.Errorf("filter in strict mode: %v, want EINVAL", err)
	}
	for _, nr := range []int{unix.SYS_READ, unix.SYS_WRITE, unix.SYS_EXIT, unix.SYS_RT_SIGRETURN} {
		if runs, _ := verdict(task, nr); !runs {
			t.Errorf("strict mode refused syscall %d", nr)
		}
	}
	if runs, _ := verdict(task, unix.SYS_EXIT_GROUP); runs || !task.Killed() || tg.status != Signaled(int(unix.SIGKILL), false) {
		t.Errorf("exit_group in strict mode: runs %v killed %v status %#x", runs, task.Killed(), tg.status)
	}

	_, _, ts = seccompGroup(1)
	ts[0].SetNoNewPrivs()
	ts[0].AppendSeccompFilter(oneSyscall(t, 0, unix.SECCOMP_RET_ALLOW), 0)
	if err := ts[0].SetSeccompStrict(); err != unix.EINVAL {
		t.Errorf("strict after a filter: %v, want EINVAL", err)
	}
}

func TestSeccompVerdictNoAllocs(t *testing.T) {
	_, _, ts := seccompGroup(1)
	task := ts[0]
	task.SetNoNewPrivs()
	task.AppendSeccompFilter(oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_ERRNO|1), 0)
	if n := testing.AllocsPerRun(100, func() { verdict(task, unix.SYS_GETPID) }); n != 0 {
		t.Errorf("an ERRNO verdict allocates %v times", n)
	}
}

// TestSeccompTSYNCConcurrent lets the race detector check that a sibling's
// TSYNC and a task's own syscalls and installs may overlap.
func TestSeccompTSYNCConcurrent(t *testing.T) {
	_, _, ts := seccompGroup(2)
	a, b := ts[0], ts[1]
	a.SetNoNewPrivs()
	b.SetNoNewPrivs()
	allow := oneSyscall(t, unix.SYS_GETPID, unix.SECCOMP_RET_ALLOW)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			a.AppendSeccompFilter(allow, unix.SECCOMP_FILTER_FLAG_TSYNC)
		}
	}()
	for i := 0; i < 200; i++ {
		verdict(b, unix.SYS_GETPID)
		b.SeccompMode()
	}
	<-done
	if b.SeccompMode() != unix.SECCOMP_MODE_FILTER {
		t.Errorf("b has no filter after a's TSYNC")
	}
}
