package kernel

import (
	"golang.org/x/sys/unix"
)

// PID namespaces (pid_namespaces(7)). The sandbox starts with one, the
// root namespace; clone(CLONE_NEWPID), unshare(CLONE_NEWPID) and pod
// members (runsc/boot/container.go) make child namespaces. A task has an
// id in its own namespace and in every ancestor, and is invisible in the
// others.
//
// Inside the kernel a task is named by its id in the root namespace
// (Task.tid, ThreadGroup.pid, the pgid and sid fields): those are unique
// across the sandbox, so the task tree, sessions and process groups keep
// one set of ids. Every id that crosses the syscall boundary is
// translated in the caller's namespace (IDOfTask, IDOfThreadGroup,
// TaskWithID, ThreadGroupWithID); an id that does not exist there is
// ESRCH (lookups) or 0 (reports), as on Linux.

// maxPIDNamespaceLevel is Linux's MAX_PID_NS_LEVEL: the root namespace is
// level 0 and creating one deeper than 32 fails with ENOSPC.
const maxPIDNamespaceLevel = 32

// PIDNamespace is one PID namespace.
type PIDNamespace struct {
	k *Kernel
	// parent is nil for the root namespace; level is the number of
	// ancestors. Both are immutable.
	parent *PIDNamespace
	level  int
	// inum is the namespace's inode number, what /proc/[pid]/ns/pid
	// shows (Linux: the root one is PROC_PID_INIT_INO, the others are
	// allocated from PROC_DYNAMIC_FIRST up). Immutable.
	inum uint32

	// The fields below are protected by k.mu.

	// tasks maps the id in this namespace of every live task of the
	// namespace and its descendants.
	tasks map[ThreadID]*Task
	// groups maps the pid in this namespace of every live or zombie
	// process of the namespace and its descendants.
	groups map[ThreadID]*ThreadGroup
	// last is the last id handed out; ids are allocated upwards and wrap
	// like Linux's.
	last ThreadID
	// init is the namespace's first process (pid 1 in it), nil before
	// it exists. Orphans of the namespace are reparented to it, it
	// ignores signals from inside the namespace that it has no handler
	// for, and its death kills the namespace.
	init *ThreadGroup
	// dying is set when init exited: every other task of the namespace
	// was sent SIGKILL and new processes fail with ENOMEM. initPending
	// is set while init's exit is held back from its parent until the
	// namespace's other tasks are gone (Linux's zap_pid_ns_processes).
	dying       bool
	initPending bool
}

func newPIDNamespace(k *Kernel, parent *PIDNamespace) *PIDNamespace {
	ns := &PIDNamespace{
		k:      k,
		parent: parent,
		tasks:  make(map[ThreadID]*Task),
		groups: make(map[ThreadID]*ThreadGroup),
	}
	ns.inum = rootPIDNamespaceInode
	if parent != nil {
		ns.level = parent.level + 1
		ns.inum = nsInodeBase + k.nsInodes.Add(1)
	}
	return ns
}

// Namespace inode numbers (Linux: include/linux/proc_ns.h).
const (
	rootPIDNamespaceInode = 0xeffffffc
	nsInodeBase           = 0xf0000000
)

// Inode returns the namespace's inode number (/proc/[pid]/ns/pid shows
// "pid:[inode]").
func (ns *PIDNamespace) Inode() uint32 { return ns.inum }

// NewChild returns a new, empty child namespace of ns; its first process
// becomes its init. It fails with ENOSPC past the nesting limit.
func (ns *PIDNamespace) NewChild() (*PIDNamespace, error) {
	if ns.level+1 > maxPIDNamespaceLevel {
		return nil, unix.ENOSPC
	}
	return newPIDNamespace(ns.k, ns), nil
}

// Parent returns the parent namespace, nil for the root one.
func (ns *PIDNamespace) Parent() *PIDNamespace { return ns.parent }

// Level returns the number of ancestors of ns.
func (ns *PIDNamespace) Level() int { return ns.level }

// RootPIDNamespace returns the sandbox's root PID namespace.
func (k *Kernel) RootPIDNamespace() *PIDNamespace { return k.root }

// PIDNamespace returns the namespace t lives in (Linux's
// task_active_pid_ns); it never changes.
func (t *Task) PIDNamespace() *PIDNamespace { return t.ns }

// PIDNamespace returns the namespace tg lives in.
func (tg *ThreadGroup) PIDNamespace() *PIDNamespace { return tg.ns }

// ChildPIDNamespace returns the namespace t's next children are created
// in (/proc/[pid]/ns/pid_for_children): t's own unless it unshared
// CLONE_NEWPID. Like Linux, it returns nil for a namespace that has no
// init yet.
func (t *Task) ChildPIDNamespace() *PIDNamespace {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if ns := t.childNS; ns.level == 0 || ns.init != nil {
		return ns
	}
	return nil
}

// contains reports whether ns is other or one of its ancestors, that is,
// whether the tasks of other are visible in ns.
func (ns *PIDNamespace) contains(other *PIDNamespace) bool {
	if other == nil || other.level < ns.level {
		return false
	}
	for other.level > ns.level {
		other = other.parent
	}
	return other == ns
}

// Getpid returns t's process id in its own namespace (getpid). It takes
// no lock: a thread group's ids never change and t's namespace is fixed.
func (t *Task) Getpid() ThreadID { return t.tg.ids[t.ns.level] }

// Gettid returns t's thread id in its own namespace (gettid). Only t's
// goroutine may call it (its tid changes only in its own execve).
func (t *Task) Gettid() ThreadID { return t.ids[t.ns.level] }

// vtid is t's thread id in its own namespace, what futex words hold
// (Linux's task_pid_vnr). It is read without a lock: it changes only in
// t's own execve.
func (t *Task) vtid() ThreadID { return t.ids[t.ns.level] }

// IDOfTask returns t's thread id in ns, 0 if t is not visible there.
func (ns *PIDNamespace) IDOfTask(t *Task) ThreadID {
	if t == nil || !ns.contains(t.ns) {
		return 0
	}
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return t.ids[ns.level]
}

// idOfTaskLocked is IDOfTask with k.mu held.
func (ns *PIDNamespace) idOfTaskLocked(t *Task) ThreadID {
	if t == nil || !ns.contains(t.ns) {
		return 0
	}
	return t.ids[ns.level]
}

// IDOfThreadGroup returns tg's pid in ns, 0 if tg is not visible there.
// It takes no lock (a thread group's ids are immutable).
func (ns *PIDNamespace) IDOfThreadGroup(tg *ThreadGroup) ThreadID {
	if tg == nil || !ns.contains(tg.ns) {
		return 0
	}
	return tg.ids[ns.level]
}

// idOfRootIDLocked translates an id of the root namespace (a pgid or sid
// as the kernel stores them) into ns: 0 when no process or thread carries
// it in ns any more. k.mu must be held.
func (ns *PIDNamespace) idOfRootIDLocked(id ThreadID) ThreadID {
	if ns.level == 0 || id <= 0 {
		return id
	}
	root := ns.k.root
	if tg := root.groups[id]; tg != nil {
		return ns.IDOfThreadGroup(tg)
	}
	if t := root.tasks[id]; t != nil {
		return ns.idOfTaskLocked(t)
	}
	return 0
}

// rootIDLocked translates an id of ns into the root namespace: the
// process or thread with that id, 0 if there is none. k.mu must be held.
func (ns *PIDNamespace) rootIDLocked(id ThreadID) ThreadID {
	if ns.level == 0 || id <= 0 {
		return id
	}
	if tg := ns.groups[id]; tg != nil {
		return tg.pid
	}
	if t := ns.tasks[id]; t != nil {
		return t.tid
	}
	return 0
}

// pgrpRootIDLocked translates a process group id of ns into the root
// namespace: that of the process or thread with the id, else that of a
// group whose leader has gone but whose id, in ns, it is (0 if none).
// k.mu must be held.
func (ns *PIDNamespace) pgrpRootIDLocked(id ThreadID) ThreadID {
	if r := ns.rootIDLocked(id); r != 0 || id <= 0 {
		return r
	}
	for _, tg := range ns.groups {
		if ns.IDOfThreadGroup(tg.pgrp) == id {
			return tg.pgid
		}
	}
	return 0
}

// pgrpLeaderLocked returns the process whose pid is the process group id
// pgid (root namespace), which may have been reaped; nil if no process is
// in the group. k.mu must be held.
func (k *Kernel) pgrpLeaderLocked(pgid ThreadID) *ThreadGroup {
	if tg := k.root.groups[pgid]; tg != nil {
		return tg
	}
	for _, tg := range k.root.groups {
		if tg.pgid == pgid {
			return tg.pgrp
		}
	}
	return nil
}

// TaskWithID returns the live task with thread id tid in ns, nil if none.
func (ns *PIDNamespace) TaskWithID(tid ThreadID) *Task {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return ns.tasks[tid]
}

// ThreadGroupWithID returns the live or zombie process with pid in ns,
// nil if none.
func (ns *PIDNamespace) ThreadGroupWithID(pid ThreadID) *ThreadGroup {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return ns.groups[pid]
}

// lookupGroupLocked returns the process that pid names in ns: a thread
// group by its pid, or the group of a thread by its tid (Linux's
// find_task_by_vpid finds both). k.mu must be held.
func (ns *PIDNamespace) lookupGroupLocked(pid ThreadID) *ThreadGroup {
	if tg := ns.groups[pid]; tg != nil {
		return tg
	}
	if o := ns.tasks[pid]; o != nil {
		return o.tg
	}
	return nil
}

// ThreadGroups returns every live and zombie process visible in ns,
// ordered by their pid in ns.
func (ns *PIDNamespace) ThreadGroups() []*ThreadGroup {
	k := ns.k
	k.mu.Lock()
	out := make([]*ThreadGroup, 0, len(ns.groups))
	for _, tg := range ns.groups {
		out = append(out, tg)
	}
	k.mu.Unlock()
	sortGroups(out, ns.level)
	return out
}

// IDs returns t's thread ids from ns down to t's own namespace
// (/proc/[pid]/status's NSpid), nil if t is not visible in ns.
func (ns *PIDNamespace) IDs(t *Task) []ThreadID {
	if !ns.contains(t.ns) {
		return nil
	}
	k := ns.k
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]ThreadID(nil), t.ids[ns.level:]...)
}

// GroupIDs returns tg's pids from ns down to tg's own namespace
// (NStgid), nil if tg is not visible in ns.
func (ns *PIDNamespace) GroupIDs(tg *ThreadGroup) []ThreadID {
	if !ns.contains(tg.ns) {
		return nil
	}
	return append([]ThreadID(nil), tg.ids[ns.level:]...)
}

// allocLocked returns a free id of ns, or false when there is none.
// k.mu must be held.
func (ns *PIDNamespace) allocLocked() (ThreadID, bool) {
	for i := 0; i < maxThreadID; i++ {
		ns.last++
		if ns.last >= maxThreadID {
			ns.last = 300 // Linux wraps to RESERVED_PIDS, in every namespace
		}
		if _, ok := ns.tasks[ns.last]; ok {
			continue
		}
		if _, ok := ns.groups[ns.last]; ok {
			continue
		}
		return ns.last, true
	}
	return 0, false
}

// allocIDsLocked returns ids for a new task of ns, one per level from
// the root down: ids[ns.level] is its id in ns. setTID, if not nil, asks
// for the ids given, innermost first (clone3's set_tid); a 0 there means
// any. A new task of a namespace whose init exited fails with ENOMEM
// (Linux's alloc_pid without PIDNS_ADDING); a namespace without init
// takes only a process (its init). k.mu must be held.
func (ns *PIDNamespace) allocIDsLocked(setTID []ThreadID, thread bool) ([]ThreadID, error) {
	if ns.dying || (ns.init == nil && ns.level > 0 && thread) {
		return nil, unix.ENOMEM
	}
	if len(setTID) > ns.level+1 {
		return nil, unix.EINVAL
	}
	ids := make([]ThreadID, ns.level+1)
	for n, i := ns, 0; n != nil; n, i = n.parent, i+1 {
		var want ThreadID
		if i < len(setTID) {
			want = setTID[i]
		}
		if want != 0 {
			_, usedT := n.tasks[want]
			_, usedG := n.groups[want]
			if usedT || usedG {
				return nil, unix.EEXIST
			}
			if n.init == nil && n.level > 0 && want != 1 {
				// A namespace's first process is its pid 1.
				return nil, unix.EINVAL
			}
			ids[n.level] = want
			continue
		}
		id, ok := n.allocLocked()
		if !ok {
			return nil, unix.EAGAIN
		}
		ids[n.level] = id
	}
	return ids, nil
}

// registerTaskLocked enters t (and, for a new process, its thread group)
// in its namespace and every ancestor. t.ids and t.tid must be set.
// k.mu must be held.
func (k *Kernel) registerTaskLocked(t *Task, newGroup bool) {
	for n := t.ns; n != nil; n = n.parent {
		n.tasks[t.ids[n.level]] = t
		if newGroup {
			n.groups[t.ids[n.level]] = t.tg
		}
	}
	if newGroup && t.ns.init == nil && t.ns.level > 0 {
		t.ns.init = t.tg
	}
}

// unregisterTaskLocked removes the exited task t from every namespace's
// task map. k.mu must be held.
func (k *Kernel) unregisterTaskLocked(t *Task) {
	for n := t.ns; n != nil; n = n.parent {
		if n.tasks[t.ids[n.level]] == t {
			delete(n.tasks, t.ids[n.level])
		}
	}
	for n := t.ns; n != nil; n = n.parent {
		if n.initPending && len(n.tasks) == 0 {
			k.finishNSInitLocked(n)
		}
	}
}

// unregisterGroupLocked removes the reaped tg from every namespace's
// process map. k.mu must be held.
func (k *Kernel) unregisterGroupLocked(tg *ThreadGroup) {
	for n := tg.ns; n != nil; n = n.parent {
		if n.groups[tg.ids[n.level]] == tg {
			delete(n.groups, tg.ids[n.level])
		}
	}
}

// takeOverLeaderIDsLocked gives the exec'ing non-leader t its group's
// ids (the leader has exited). k.mu must be held.
func (k *Kernel) takeOverLeaderIDsLocked(t *Task) {
	for n := t.ns; n != nil; n = n.parent {
		if n.tasks[t.ids[n.level]] == t {
			delete(n.tasks, t.ids[n.level])
		}
	}
	t.ids = t.tg.ids
	t.tid = t.tg.pid
	for n := t.ns; n != nil; n = n.parent {
		n.tasks[t.ids[n.level]] = t
	}
}

// isNSInitLocked reports whether tg is the init of its namespace (pid 1
// there). k.mu must be held.
func (tg *ThreadGroup) isNSInitLocked() bool {
	return tg.ns != nil && tg.ns.init == tg
}

// nsInitExitLocked runs when the init of the child namespace ns has
// exited: every other process of the namespace is killed, no process may
// enter it any more, and init's exit is reported to its parent only when
// they are all gone. It reports whether the report must wait. k.mu must
// be held.
func (k *Kernel) nsInitExitLocked(ns *PIDNamespace) bool {
	ns.dying = true
	for _, o := range ns.groups {
		if o != ns.init && !o.zombie {
			k.killGroupLocked(o, Signaled(int(unix.SIGKILL), false))
		}
	}
	if len(ns.tasks) > 0 {
		ns.initPending = true
		return true
	}
	return false
}

// finishNSInitLocked reports the exit of ns's init to its parent once
// the last other task of ns is gone. k.mu must be held.
func (k *Kernel) finishNSInitLocked(ns *PIDNamespace) {
	ns.initPending = false
	// Zombies left in the namespace have no one to reap them now.
	for _, o := range ns.groups {
		if o != ns.init && o.zombie {
			k.reapLocked(o)
		}
	}
	k.reportExitLocked(ns.init)
}

// senderOutside reports whether a signal from sender to tg comes from
// outside tg's namespace (an ancestor namespace, or the host for a nil
// sender): then SIGKILL and SIGSTOP reach the namespace's init (Linux:
// send_signal_locked's force). Namespaces are immutable: no lock.
func senderOutside(sender *Task, tg *ThreadGroup) bool {
	return sender == nil || tg.ns == nil || !tg.ns.contains(sender.ns)
}

// RootID translates id of ns into the root namespace's id of the same
// process or thread (0 if ns has none), for state that the kernel keeps
// in root ids (socket credentials).
func (ns *PIDNamespace) RootID(id ThreadID) ThreadID {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return ns.rootIDLocked(id)
}

// IDOfRootID translates a root-namespace id into ns (0 if the process or
// thread is not visible there or has gone).
func (ns *PIDNamespace) IDOfRootID(id ThreadID) ThreadID {
	ns.k.mu.Lock()
	defer ns.k.mu.Unlock()
	return ns.idOfRootIDLocked(id)
}
