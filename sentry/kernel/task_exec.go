package kernel

import (
	"time"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Execve replaces the calling process' image with the program at path
// (resolved from the task's root and cwd; execveat resolves its dirfd
// first). On failure the old image, and every other thread, is intact and
// the error is returned; on success the task continues at the new entry
// point as the only thread of its process, with the process' pid as its
// tid.
//
// The steps follow Linux's fs/exec.c: the new program is loaded into a
// fresh address space before the point of no return; then the other
// threads are killed (de_thread), the exec'ing thread takes over the
// leader's tid, the old address space is dropped (clear_child_tid is
// honoured and a vfork parent is released), a shared descriptor table is
// unshared and its close-on-exec descriptors closed, and caught signals are
// reset to their default action.
func (t *Task) Execve(path string, argv, envv []string) error {
	k := t.k
	// The platform's address space is made once the program is found
	// and loaded: most execve calls of a PATH search fail before that.
	m := mm.NewDeferredMemoryManager(k.Platform, k.MemoryFile)
	img, err := k.Loader.Load(t, m, path, argv, envv)
	if err == nil {
		m.PrefaultExec(img.Entry)
		err = m.Activate()
	}
	if err != nil {
		m.Release()
		return err
	}

	// Point of no return: from here the task either runs the new image
	// or dies.
	if err := t.killOtherThreads(); err != nil {
		m.Release()
		return err
	}
	k.mu.Lock()
	t.tg.execed = true
	// The tid before exec (in every namespace), for PTRACE_EVENT_EXEC's
	// message.
	formerIDs := t.ids
	if l := t.tg.leader; l != t {
		// A non-leader exec'd: it becomes the leader and takes over its
		// ids (the leader has exited, so they are free in the namespaces'
		// task maps; the thread group kept them reserved in their group maps).
		k.takeOverLeaderIDsLocked(t)
		t.tg.leader = t
	}
	k.mu.Unlock()

	// Robust and PI futexes die with the old image, before
	// clear_child_tid is handled (Linux's exec_mm_release).
	t.releaseFutexes()
	// The old address space: a vfork parent or CLONE_VM sibling waiting
	// on clear_child_tid sees it cleared.
	t.releaseClearTID()
	t.clearChildTID = 0
	t.robustList.Store(0)
	old := t.mm
	t.mm = m
	old.Release()
	t.releaseVfork()

	// A table shared with CLONE_FILES is unshared first, as Linux does.
	if t.fds.users.Load() > 1 {
		nf := NewFDTableRef(t.fds.Fork())
		t.fds.decRef(t)
		t.fds = nf
	}
	t.fds.CloseOnExec(t)
	if t.tg.handlers != nil {
		t.tg.handlers.resetForExec()
	}
	t.execSignalHook()
	t.tg.deletePOSIXTimers()
	t.setImage(img)
	t.execSecurity()
	t.ptraceExec(formerIDs)
	return nil
}

// killOtherThreads kills every other task of t's group and waits until
// they are gone (Linux's de_thread). If another thread got there first
// (a concurrent execve or exit_group), t itself is the one killed and it
// returns ErrExit.
func (t *Task) killOtherThreads() error {
	k := t.k
	// Marking the others happens under k.mu, so of two threads that exec
	// at once exactly one kills the other.
	k.mu.Lock()
	if t.killed.Load() || t.tg.exiting {
		// The group is dying (exit_group, a fatal signal, or another
		// thread's exec got here first): so is t.
		t.killed.Store(true)
		k.mu.Unlock()
		return ErrExit()
	}
	others := make([]*Task, 0, len(t.tg.tasks))
	for o := range t.tg.tasks {
		if o != t {
			o.killed.Store(true)
			others = append(others, o)
		}
	}
	k.mu.Unlock()
	if len(others) == 0 {
		return nil
	}
	for _, o := range others {
		o.interrupt()
	}
	// The killed threads leave application code within one platform
	// switch; poll for their exit, backing off up to a millisecond.
	delay := 20 * time.Microsecond
	for {
		k.mu.Lock()
		n := len(t.tg.tasks)
		k.mu.Unlock()
		if n == 1 {
			return nil
		}
		if t.killed.Load() {
			return ErrExit()
		}
		time.Sleep(delay)
		if delay < time.Millisecond {
			delay *= 2
		}
	}
}
