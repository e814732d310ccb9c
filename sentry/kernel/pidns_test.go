package kernel

import (
	"testing"

	"golang.org/x/sys/unix"
)

// newTestProcess enters a one-thread process in ns the way Clone does,
// without running anything.
func newTestProcess(t *testing.T, k *Kernel, ns *PIDNamespace, setTID []ThreadID) (*Task, error) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	ids, err := ns.allocIDsLocked(setTID, false)
	if err != nil {
		return nil, err
	}
	tg := &ThreadGroup{k: k, ns: ns, tasks: make(map[*Task]struct{}), children: make(map[*ThreadGroup]struct{})}
	task := &Task{k: k, tg: tg, ns: ns, childNS: ns}
	tg.leader = task
	tg.tasks[task] = struct{}{}
	task.setIDs(ids)
	k.registerTaskLocked(task, true)
	if ns == k.root && k.root.init == nil {
		k.root.init = tg
	}
	return task, nil
}

func mustProcess(t *testing.T, k *Kernel, ns *PIDNamespace) *Task {
	t.Helper()
	task, err := newTestProcess(t, k, ns, nil)
	if err != nil {
		t.Fatalf("new process: %v", err)
	}
	return task
}

func TestPIDNamespaceIDs(t *testing.T) {
	k := New(Config{})
	root := k.RootPIDNamespace()
	init := mustProcess(t, k, root)
	other := mustProcess(t, k, root)
	child, err := root.NewChild()
	if err != nil {
		t.Fatal(err)
	}
	c1 := mustProcess(t, k, child)
	c2 := mustProcess(t, k, child)
	grand, _ := child.NewChild()
	g1 := mustProcess(t, k, grand)

	for _, c := range []struct {
		name string
		ns   *PIDNamespace
		task *Task
		want ThreadID
	}{
		{"init in root", root, init, 1},
		{"other in root", root, other, 2},
		{"c1 in root", root, c1, 3},
		{"c1 in child", child, c1, 1},
		{"c2 in child", child, c2, 2},
		{"g1 in root", root, g1, 5},
		{"g1 in child", child, g1, 3},
		{"g1 in grand", grand, g1, 1},
		{"root init in child", child, init, 0},
		{"c1 in grand", grand, c1, 0},
	} {
		if got := c.ns.IDOfTask(c.task); got != c.want {
			t.Errorf("%s: IDOfTask = %d, want %d", c.name, got, c.want)
		}
		if got := c.ns.IDOfThreadGroup(c.task.tg); got != c.want {
			t.Errorf("%s: IDOfThreadGroup = %d, want %d", c.name, got, c.want)
		}
		if c.want != 0 {
			if got := c.ns.TaskWithID(c.want); got != c.task {
				t.Errorf("%s: TaskWithID(%d) = %p, want %p", c.name, c.want, got, c.task)
			}
			if got := c.ns.ThreadGroupWithID(c.want); got != c.task.tg {
				t.Errorf("%s: ThreadGroupWithID(%d) is another process", c.name, c.want)
			}
			if got := c.ns.RootID(c.want); got != c.task.tid {
				t.Errorf("%s: RootID(%d) = %d, want %d", c.name, c.want, got, c.task.tid)
			}
			if got := c.ns.IDOfRootID(c.task.tid); got != c.want {
				t.Errorf("%s: IDOfRootID(%d) = %d, want %d", c.name, c.task.tid, got, c.want)
			}
		}
	}
	if got := g1.Getpid(); got != 1 {
		t.Errorf("g1.Getpid = %d, want 1", got)
	}
	if got := c2.Gettid(); got != 2 {
		t.Errorf("c2.Gettid = %d, want 2", got)
	}
	if got := child.IDs(g1); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("child.IDs(g1) = %v, want [3 1]", got)
	}
	if got := grand.IDs(c1); got != nil {
		t.Errorf("grand.IDs(c1) = %v, want nil", got)
	}
	if got := child.TaskWithID(5); got != nil {
		t.Errorf("child.TaskWithID(5) = %p, want nil (root id)", got)
	}
	if got := len(child.ThreadGroups()); got != 3 {
		t.Errorf("child sees %d processes, want 3", got)
	}
	if got := len(root.ThreadGroups()); got != 5 {
		t.Errorf("root sees %d processes, want 5", got)
	}

	// Reaping removes the process from every level.
	k.mu.Lock()
	k.unregisterTaskLocked(g1)
	k.unregisterGroupLocked(g1.tg)
	k.mu.Unlock()
	if root.TaskWithID(5) != nil || child.ThreadGroupWithID(3) != nil || grand.TaskWithID(1) != nil {
		t.Errorf("g1 still visible after it was reaped")
	}
}

func TestPIDNamespaceAllocation(t *testing.T) {
	k := New(Config{})
	root := k.RootPIDNamespace()
	mustProcess(t, k, root)
	child, _ := root.NewChild()

	// The first process of a namespace is its pid 1 and its init.
	if _, err := newTestProcess(t, k, child, []ThreadID{2}); err != unix.EINVAL {
		t.Errorf("set_tid 2 for a namespace's first process: %v, want EINVAL", err)
	}
	init, err := newTestProcess(t, k, child, []ThreadID{1, 50})
	if err != nil {
		t.Fatalf("set_tid [1 50]: %v", err)
	}
	if init.tid != 50 || child.init != init.tg {
		t.Errorf("init: root id %d (want 50), namespace init set %v", init.tid, child.init == init.tg)
	}
	if _, err := newTestProcess(t, k, child, []ThreadID{1}); err != unix.EEXIST {
		t.Errorf("set_tid of a used id: %v, want EEXIST", err)
	}
	if _, err := newTestProcess(t, k, child, []ThreadID{1, 2, 3}); err != unix.EINVAL {
		t.Errorf("set_tid deeper than the namespace: %v, want EINVAL", err)
	}
	next := mustProcess(t, k, child)
	if got := child.IDOfTask(next); got != 2 {
		t.Errorf("next process of the child namespace is %d, want 2", got)
	}

	// A namespace whose init died takes no process.
	k.mu.Lock()
	child.dying = true
	k.mu.Unlock()
	if _, err := newTestProcess(t, k, child, nil); err != unix.ENOMEM {
		t.Errorf("process in a dying namespace: %v, want ENOMEM", err)
	}
}

func TestPIDNamespaceNesting(t *testing.T) {
	k := New(Config{})
	ns := k.RootPIDNamespace()
	for i := 1; i <= maxPIDNamespaceLevel; i++ {
		c, err := ns.NewChild()
		if err != nil {
			t.Fatalf("level %d: %v", i, err)
		}
		if c.Level() != i || c.Parent() != ns {
			t.Fatalf("level %d: got level %d", i, c.Level())
		}
		ns = c
	}
	if _, err := ns.NewChild(); err != unix.ENOSPC {
		t.Errorf("level %d: %v, want ENOSPC", maxPIDNamespaceLevel+1, err)
	}
	if !k.RootPIDNamespace().contains(ns) || ns.contains(k.RootPIDNamespace()) {
		t.Errorf("contains is not ancestry")
	}
}

func TestSenderOutside(t *testing.T) {
	k := New(Config{})
	root := k.RootPIDNamespace()
	parent := mustProcess(t, k, root)
	child, _ := root.NewChild()
	init := mustProcess(t, k, child)
	inner := mustProcess(t, k, child)
	kill, term := int(unix.SIGKILL), int(unix.SIGTERM)
	for _, c := range []struct {
		name   string
		sender *Task
		sig    int
		want   bool
	}{
		{"SIGKILL from the parent namespace", parent, kill, true},
		{"SIGTERM from the parent namespace", parent, term, false},
		{"SIGKILL from inside", inner, kill, false},
		{"SIGKILL from the host", nil, kill, true},
	} {
		if got := forcedSignal(c.sender, init.tg, c.sig); got != c.want {
			t.Errorf("%s: forced = %v, want %v", c.name, got, c.want)
		}
	}
}

// getpid is the fast path's benchmark: no allocation, no lock.
func TestGetpidAllocationFree(t *testing.T) {
	k := New(Config{})
	child, _ := k.RootPIDNamespace().NewChild()
	mustProcess(t, k, k.RootPIDNamespace())
	task := mustProcess(t, k, child)
	var sink ThreadID
	if n := testing.AllocsPerRun(100, func() { sink += task.Getpid() + task.Gettid() }); n != 0 {
		t.Errorf("Getpid/Gettid allocate %v times per call", n)
	}
	if sink != 202 { // 101 runs (one warm-up) of 1+1
		t.Errorf("Getpid+Gettid summed to %d over 101 runs, want 202", sink)
	}
}

func BenchmarkGetpid(b *testing.B) {
	k := New(Config{})
	root := k.RootPIDNamespace()
	k.mu.Lock()
	ids, _ := root.allocIDsLocked(nil, false)
	tg := &ThreadGroup{k: k, ns: root}
	task := &Task{k: k, tg: tg, ns: root}
	task.setIDs(ids)
	k.mu.Unlock()
	var sink ThreadID
	for i := 0; i < b.N; i++ {
		sink += task.Getpid()
	}
	_ = sink
}
