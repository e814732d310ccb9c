package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Application seccomp (seccomp(2), prctl(PR_SET_SECCOMP)).
//
// The sentry evaluates an application's filters itself, at the top of
// doSyscall, with the classic BPF interpreter of sentry/bpf; they are never
// installed on the host. A task's filters are an immutable chain of
// seccompFilter nodes, newest first, that tasks share: installing a filter
// prepends a node to the caller's chain, fork and clone copy the pointer,
// execve keeps it, and TSYNC points every thread of the group at the
// caller's chain, as Linux does.
//
// Locking: Task.seccomp is written only with Kernel.mu held (by the task
// itself when it installs a filter, by a sibling thread's TSYNC, by clone
// for the new task); the task goroutine reads it without the lock on every
// syscall (one atomic load), so a TSYNC takes effect at the sibling's next
// syscall.
//
// User notification (SECCOMP_FILTER_FLAG_NEW_LISTENER) is not supported:
// the flag is rejected with EINVAL, before the program is even read, so a
// probing library (libseccomp passes a NULL program and looks for EFAULT)
// learns that it is unavailable. A filter may still return
// SECCOMP_RET_USER_NOTIF; with no listener, the syscall fails with ENOSYS,
// as on Linux.

// seccompFilter is one installed filter and, through prev, the filters
// installed before it. It is immutable once published.
type seccompFilter struct {
	// strict marks SECCOMP_MODE_STRICT, a chain of one node without a
	// program.
	strict bool
	// prog is the validated filter.
	prog *bpf.Program
	// log is SECCOMP_FILTER_FLAG_LOG: actions other than ALLOW that this
	// filter decides are logged (under --debug).
	log bool
	// pathLen is the length of the chain in instructions, with Linux's
	// four-instruction penalty per filter, for the per-path limit.
	pathLen int
	prev    *seccompFilter
}

// seccompStrict is the chain of every task in SECCOMP_MODE_STRICT.
var seccompStrict = &seccompFilter{strict: true}

// maxSeccompPathLen is Linux's MAX_INSNS_PER_PATH: the most instructions,
// counting the penalty, that all of a task's filters may hold together.
// Linux counts the instructions of its internal translation of each
// filter, which are more than the classic ones counted here, so the
// sentry accepts every chain Linux accepts and a few longer ones.
const maxSeccompPathLen = (1 << 18) / bpf.InstructionSize

// SeccompFilterFlags are the SECCOMP_SET_MODE_FILTER flags this kernel
// knows; others are EINVAL.
const SeccompFilterFlags = unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG |
	unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER |
	unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

// SeccompMode returns prctl(PR_GET_SECCOMP)'s value: SECCOMP_MODE_DISABLED,
// _STRICT or _FILTER.
func (t *Task) SeccompMode() int {
	switch f := t.seccomp.Load(); {
	case f == nil:
		return unix.SECCOMP_MODE_DISABLED
	case f.strict:
		return unix.SECCOMP_MODE_STRICT
	}
	return unix.SECCOMP_MODE_FILTER
}

// SetSeccompStrict enters SECCOMP_MODE_STRICT: from now on only read,
// write, exit and rt_sigreturn are allowed, anything else kills the thread
// with SIGKILL. A task with filters cannot switch modes (EINVAL).
func (t *Task) SetSeccompStrict() error {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if f := t.seccomp.Load(); f != nil && !f.strict {
		return unix.EINVAL
	}
	t.seccomp.Store(seccompStrict)
	return nil
}

// MayInstallSeccompFilter reports whether t may install a filter: only
// with no_new_privs or CAP_SYS_ADMIN, so that a filter cannot trick a
// setuid program (Linux: EACCES otherwise).
func (t *Task) MayInstallSeccompFilter() bool {
	return t.NoNewPrivs() || t.Credentials().HasCapability(auth.CAP_SYS_ADMIN)
}

// AppendSeccompFilter installs prog in front of t's filters, as
// seccomp(SECCOMP_SET_MODE_FILTER, flags) does once the program is
// validated and the caller's permission checked. flags must be within
// SeccompFilterFlags without NEW_LISTENER.
//
// With SECCOMP_FILTER_FLAG_TSYNC every other thread of the group gets the
// new chain (and no_new_privs if the caller has it). When a thread cannot
// follow (its filters are not an ancestor of the caller's, or it is in
// strict mode), nothing is installed and the result is that thread's tid,
// or ESRCH under SECCOMP_FILTER_FLAG_TSYNC_ESRCH.
func (t *Task) AppendSeccompFilter(prog *bpf.Program, flags uint32) (uintptr, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := t.seccomp.Load()
	if cur != nil && cur.strict {
		return 0, unix.EINVAL
	}
	nf := &seccompFilter{
		prog:    prog,
		log:     flags&unix.SECCOMP_FILTER_FLAG_LOG != 0,
		pathLen: prog.Len(),
		prev:    cur,
	}
	if cur != nil {
		nf.pathLen += cur.pathLen + 4
	}
	if nf.pathLen > maxSeccompPathLen {
		return 0, unix.ENOMEM
	}
	tsync := flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0
	if tsync {
		for ot := range t.tg.tasks {
			if ot == t || ot.killed.Load() {
				continue
			}
			if of := ot.seccomp.Load(); of != nil && (of.strict || !cur.hasAncestor(of)) {
				if flags&unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0 {
					return 0, unix.ESRCH
				}
				return uintptr(ot.vtid()), nil
			}
		}
	}
	t.seccomp.Store(nf)
	if tsync {
		nnp := t.NoNewPrivs()
		for ot := range t.tg.tasks {
			if ot == t || ot.killed.Load() {
				continue
			}
			ot.seccomp.Store(nf)
			if nnp {
				ot.SetNoNewPrivs()
			}
		}
	}
	return 0, nil
}

// hasAncestor reports whether a is f or installed before it. f may be nil.
func (f *seccompFilter) hasAncestor(a *seccompFilter) bool {
	for ; f != nil; f = f.prev {
		if f == a {
			return true
		}
	}
	return false
}

// inheritSeccompLocked gives a new task its creator's filters and
// no_new_privs, as fork and clone do. Kernel.mu is held, so that a
// concurrent TSYNC either sees nt or has already updated t.
//
// Preconditions: t.k.mu is locked.
func (t *Task) inheritSeccompLocked(nt *Task) {
	nt.seccomp.Store(t.seccomp.Load())
	if t.NoNewPrivs() {
		nt.SetNoNewPrivs()
	}
}

// SeccompActionAvailable reports whether a filter may return action
// (SECCOMP_GET_ACTION_AVAIL): every action Linux knows, including
// USER_NOTIF, which then fails the syscall with ENOSYS for lack of a
// listener.
func SeccompActionAvailable(action uint32) bool {
	switch action {
	case unix.SECCOMP_RET_KILL_PROCESS, unix.SECCOMP_RET_KILL_THREAD, unix.SECCOMP_RET_TRAP,
		unix.SECCOMP_RET_ERRNO, unix.SECCOMP_RET_USER_NOTIF, unix.SECCOMP_RET_TRACE,
		unix.SECCOMP_RET_LOG, unix.SECCOMP_RET_ALLOW:
		return true
	}
	return false
}

// Syscalls strict mode allows.
const (
	sysRead         = 0
	sysWrite        = 1
	sysRtSigreturn  = 15
	sysExit         = 60
	seccompMaxErrno = 4095
)

// seccompAllows runs t's filters f on the syscall nr about to execute and
// carries out their verdict. It returns true when the syscall is to run;
// otherwise it has set the result or killed the task. Only the task
// goroutine calls it, from doSyscall.
func (t *Task) seccompAllows(f *seccompFilter, nr uintptr) bool {
	return t.seccompCheck(f, nr, false)
}

// seccompCheck is seccompAllows; recheck is set for the second evaluation
// after a tracer handled SECCOMP_RET_TRACE, where, as in Linux, another
// TRACE verdict lets the syscall run.
func (t *Task) seccompCheck(f *seccompFilter, nr uintptr, recheck bool) bool {
	head := f
	if f.strict {
		switch nr {
		case sysRead, sysWrite, sysRtSigreturn, sysExit:
			return true
		}
		t.k.Debugf("tid %d: seccomp strict mode: syscall %d kills the thread", t.tid, nr)
		t.seccompKillThread(int(unix.SIGKILL), false)
		return false
	}
	r := &t.regs
	d := bpf.SeccompData{
		// The raw number: the x32 bit and numbers past the table included.
		Nr:                 int32(nr),
		Arch:               unix.AUDIT_ARCH_X86_64,
		InstructionPointer: r.Rip,
		Args:               [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9},
	}
	// The most restrictive action wins; among equals, the newest filter.
	// Actions compare as signed numbers, which puts KILL_PROCESS first and
	// makes unknown actions as strong as their values say.
	ret, match := uint32(unix.SECCOMP_RET_ALLOW), (*seccompFilter)(nil)
	for ; f != nil; f = f.prev {
		v := f.prog.Run(&d)
		if int32(v&unix.SECCOMP_RET_ACTION_FULL) < int32(ret&unix.SECCOMP_RET_ACTION_FULL) {
			ret, match = v, f
		}
	}
	action, data := ret&unix.SECCOMP_RET_ACTION_FULL, ret&unix.SECCOMP_RET_DATA
	if action == unix.SECCOMP_RET_ALLOW {
		return true
	}
	if action == unix.SECCOMP_RET_LOG || match.log || action == unix.SECCOMP_RET_KILL_THREAD ||
		!SeccompActionAvailable(action) || action == unix.SECCOMP_RET_KILL_PROCESS {
		t.k.Debugf("tid %d: seccomp: syscall %d ip %#x: action %#x data %#x", t.tid, nr, r.Rip, action, data)
	}
	switch action {
	case unix.SECCOMP_RET_LOG:
		return true
	case unix.SECCOMP_RET_ERRNO:
		if data > seccompMaxErrno {
			data = seccompMaxErrno
		}
		r.Rax = negErrno(unix.Errno(data))
	case unix.SECCOMP_RET_TRACE:
		if recheck {
			return true
		}
		if !t.PtraceSeccomp(uint16(data)) {
			// No tracer asked for seccomp events: ENOSYS, as Linux.
			r.Rax = negErrno(unix.ENOSYS)
			break
		}
		// The tracer may have changed the syscall, or skipped it with
		// orig_rax -1 (rax is then what it left); if it runs, the
		// filters see it again as the tracer left it.
		if t.killed.Load() || int64(r.Orig_rax) == -1 {
			return false
		}
		return t.seccompCheck(head, uintptr(r.Orig_rax), true)
	case unix.SECCOMP_RET_USER_NOTIF:
		// No listener (user notification is not supported): ENOSYS,
		// as Linux gives without one.
		r.Rax = negErrno(unix.ENOSYS)
	case unix.SECCOMP_RET_TRAP:
		// Like Linux, the handler sees the syscall rolled back: rax holds
		// the syscall number again.
		r.Rax = r.Orig_rax
		info := &abi.SignalInfo{Signo: int32(unix.SIGSYS), Code: abi.SYS_SECCOMP, Errno: int32(data)}
		info.SetCallAddr(r.Rip)
		info.SetSyscall(int32(nr))
		info.SetArch(unix.AUDIT_ARCH_X86_64)
		t.ForceSignal(info)
	case unix.SECCOMP_RET_KILL_THREAD:
		t.seccompKillThread(int(unix.SIGSYS), true)
	default:
		// SECCOMP_RET_KILL_PROCESS and unknown actions: the process dies
		// of SIGSYS whatever its handlers, as if it dumped core.
		r.Rax = r.Orig_rax
		t.k.killGroup(t.tg, t.k.coreSignaled(t.tg, int(unix.SIGSYS)))
	}
	return false
}

// seccompKillThread ends the calling thread for a seccomp verdict
// (SECCOMP_RET_KILL_THREAD, strict mode). The last thread of a process
// takes the process with it, which then dies of sig; other threads just
// exit, and the process goes on.
func (t *Task) seccompKillThread(sig int, core bool) {
	t.k.mu.Lock()
	if !t.tg.exiting && len(t.tg.tasks) == 1 {
		t.tg.exiting = true
		t.tg.status = Signaled(sig, false)
		if core {
			t.tg.status = t.k.coreSignaled(t.tg, sig)
		}
	}
	t.k.mu.Unlock()
	t.killed.Store(true)
}

// negErrno is -e as the syscall's return register holds it.
func negErrno(e unix.Errno) uint64 { return uint64(-int64(e)) }
