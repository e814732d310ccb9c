package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// This file is the kernel's side of credentials: publishing new ones with
// Linux's side effects, the permission checks other parts of the sentry
// ask for (may this task signal that process, change its limits, renice
// it), no_new_privs, dumpability and the execve transition. The rules
// themselves are pure functions in package auth.

// CommitCredentials publishes n as t's credentials, as Linux's
// commit_creds: a change of effective or filesystem uid or gid, or a gain
// of permitted capabilities, makes the process undumpable and clears the
// parent-death signal. Only the task goroutine calls it, for itself.
func (t *Task) CommitCredentials(n *auth.Credentials) {
	old := t.Credentials()
	if old == n {
		return
	}
	if auth.ChangesPrivilege(old, n) {
		t.SetDumpable(false)
		t.SetParentDeathSignal(0)
	}
	t.SetCredentials(n)
}

// NoNewPrivs reports prctl(PR_GET_NO_NEW_PRIVS): once set, execve never
// grants privileges (and seccomp filters may be installed without
// CAP_SYS_ADMIN).
func (t *Task) NoNewPrivs() bool { return t.policy.noNewPrivs.Load() }

// SetNoNewPrivs implements prctl(PR_SET_NO_NEW_PRIVS). The flag is sticky:
// it cannot be cleared, is inherited by clone and kept across execve.
func (t *Task) SetNoNewPrivs() { t.policy.noNewPrivs.Store(true) }

// Dumpable reports prctl(PR_GET_DUMPABLE): 1 if the process may dump core
// and be inspected through /proc and ptrace by its owner, 0 if not.
func (t *Task) Dumpable() int {
	if t.policy.notDumpable.Load() {
		return 0
	}
	return 1
}

// SetDumpable sets the dumpable flag of t's process. Linux keeps it in
// the address space; the sentry sets it on every thread of the group.
func (t *Task) SetDumpable(v bool) {
	t.k.mu.Lock()
	for o := range t.tg.tasks {
		o.policy.notDumpable.Store(!v)
	}
	t.k.mu.Unlock()
	t.policy.notDumpable.Store(!v) // t may not be in the group map yet (init)
}

// execSecurity applies what execve does to credentials and the
// per-process state that follows them, once the new image is loaded:
// the capability transition (auth.Credentials.ForExec), dumpability
// (reset to 1 unless the effective and real ids differ), and the
// resource limits that the new address space enforces. Called by Execve
// on the task goroutine.
func (t *Task) execSecurity() {
	old := t.Credentials()
	n := old.ForExec(t.NoNewPrivs())
	if auth.ChangesPrivilege(old, n) {
		t.SetParentDeathSignal(0)
	}
	t.SetCredentials(n)
	t.SetDumpable(n.EffectiveKUID == n.RealKUID && n.EffectiveKGID == n.RealKGID)
	t.applyMMLimits(t.mm)
}

// leaderCredentials returns the credentials that Linux checks when a
// process (not a particular thread) is the target: its leader's.
func (tg *ThreadGroup) leaderCredentials() *auth.Credentials {
	tg.k.mu.Lock()
	l := tg.leader
	tg.k.mu.Unlock()
	if l == nil {
		return nil
	}
	return l.Credentials()
}

// killCredsOK is Linux's kill_ok_by_cred: the sender's real or effective
// uid matches the target's real or saved uid, or the sender has CAP_KILL.
// The rest of kill's permission rule is mayKill's (signal.go).
func killCredsOK(c, tc *auth.Credentials) bool {
	return c.EffectiveKUID == tc.SavedKUID || c.EffectiveKUID == tc.RealKUID ||
		c.RealKUID == tc.SavedKUID || c.RealKUID == tc.RealKUID ||
		c.HasCapability(auth.CAP_KILL)
}

// mayPrlimit is Linux's check_prlimit_permission: a task may read or
// change another process' limits if its real uid and gid equal all of the
// target's real, effective and saved ids, or with CAP_SYS_RESOURCE.
func (t *Task) mayPrlimit(target *ThreadGroup) bool {
	if target == t.tg {
		return true
	}
	c := t.Credentials()
	tc := target.leaderCredentials()
	if tc == nil {
		return true
	}
	idMatch := c.RealKUID == tc.EffectiveKUID && c.RealKUID == tc.SavedKUID && c.RealKUID == tc.RealKUID &&
		c.RealKGID == tc.EffectiveKGID && c.RealKGID == tc.SavedKGID && c.RealKGID == tc.RealKGID
	return idMatch || c.HasCapability(auth.CAP_SYS_RESOURCE)
}

// sameOwner is Linux's check_same_owner, used by the scheduler calls: the
// caller's effective uid is the target's real or effective uid.
func sameOwner(c, tc *auth.Credentials) bool {
	return c.EffectiveKUID == tc.EffectiveKUID || c.EffectiveKUID == tc.RealKUID
}

// TasksOfUser counts the live tasks (threads) whose real uid is uid, what
// RLIMIT_NPROC limits.
func (k *Kernel) TasksOfUser(uid auth.KUID) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, o := range k.root.tasks {
		if o.Credentials().RealKUID == uid {
			n++
		}
	}
	return n
}

// CheckNPROC is the RLIMIT_NPROC check of fork and clone: EAGAIN when the
// caller's real user already has as many tasks as its soft limit allows,
// unless that user is root or the caller has CAP_SYS_RESOURCE or
// CAP_SYS_ADMIN (Linux: copy_process).
func (t *Task) CheckNPROC() error {
	lim := t.tg.limits.Get(unix.RLIMIT_NPROC).Cur
	if lim == Infinity {
		return nil
	}
	c := t.Credentials()
	if c.RealKUID == auth.RootUID || c.HasCapability(auth.CAP_SYS_RESOURCE) || c.HasCapability(auth.CAP_SYS_ADMIN) {
		return nil
	}
	if uint64(t.k.TasksOfUser(c.RealKUID)) >= lim {
		return unix.EAGAIN
	}
	return nil
}
