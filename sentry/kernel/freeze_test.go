package kernel

import (
	"testing"
	"time"
)

// TestFreezeContainer checks which tasks the sandbox's freeze and a
// container's hold, and that the run loop's flag follows them.
func TestFreezeContainer(t *testing.T) {
	k := &Kernel{}
	k.root = newPIDNamespace(k, nil)
	a := &Task{k: k, tg: &ThreadGroup{container: "a"}}
	b := &Task{k: k, tg: &ThreadGroup{container: "b"}}
	sb := &Task{k: k, tg: &ThreadGroup{}}
	held := func(t *Task) bool { return k.freezer.thawChan(t) != nil }

	k.FreezeContainer("a")
	k.FreezeContainer("a") // idempotent
	if !k.freezer.frozen.Load() || !held(a) || held(b) || held(sb) || !k.ContainerFrozen("a") || k.ContainerFrozen("b") {
		t.Fatalf("after FreezeContainer(a): frozen %v, held a %v b %v sandbox %v", k.freezer.frozen.Load(), held(a), held(b), held(sb))
	}
	ch := k.freezer.thawChan(a)
	k.Freeze()
	if !held(a) || !held(b) || !held(sb) {
		t.Fatalf("after Freeze: held a %v b %v sandbox %v", held(a), held(b), held(sb))
	}
	k.Thaw()
	if !k.freezer.frozen.Load() || !held(a) || held(b) || held(sb) {
		t.Fatalf("after Thaw: frozen %v, held a %v b %v sandbox %v", k.freezer.frozen.Load(), held(a), held(b), held(sb))
	}
	k.ThawContainer("a")
	k.ThawContainer("a") // idempotent
	select {
	case <-ch:
	default:
		t.Fatal("ThawContainer did not release the container's waiters")
	}
	if k.freezer.frozen.Load() || held(a) || k.ContainerFrozen("a") {
		t.Fatalf("after ThawContainer(a): frozen %v, held a %v", k.freezer.frozen.Load(), held(a))
	}
	// A frozen task's wait ends when it is thawed.
	k.FreezeContainer("b")
	b.interruptCh = make(chan struct{}, 1)
	done := make(chan bool)
	go func() { done <- b.waitThawed() }()
	select {
	case <-done:
		t.Fatal("waitThawed returned while the task's container was frozen")
	case <-time.After(100 * time.Millisecond):
	}
	k.ThawContainer("b")
	if !<-done {
		t.Fatal("waitThawed of a frozen task reported it was not held")
	}
	if sb.waitThawed() {
		t.Fatal("waitThawed of a task nothing holds reported it was held")
	}
}

// TestContainerPidsLimit checks that a container's pids limit counts its
// own tasks only, under the sandbox's.
func TestContainerPidsLimit(t *testing.T) {
	k := &Kernel{}
	k.root = newPIDNamespace(k, nil)
	ga, gb := &ThreadGroup{container: "a"}, &ThreadGroup{container: "b"}
	for i, g := range []*ThreadGroup{ga, ga, gb, gb, gb} {
		k.root.tasks[ThreadID(i+1)] = &Task{tg: g}
	}
	k.SetContainerPidsLimit("a", 3)
	k.SetContainerPidsLimit("b", 3)
	k.mu.Lock()
	ra, rb, rs := k.pidsLimitReachedLocked("a"), k.pidsLimitReachedLocked("b"), k.pidsLimitReachedLocked("")
	k.mu.Unlock()
	if ra || !rb || rs {
		t.Fatalf("reached: a %v (2 of 3) b %v (3 of 3) sandbox %v (no limit)", ra, rb, rs)
	}
	k.SetPidsLimit(5)
	k.mu.Lock()
	ra = k.pidsLimitReachedLocked("a")
	k.mu.Unlock()
	if !ra {
		t.Fatal("the sandbox's limit (5 of 5) did not hold a container under its own")
	}
	k.SetPidsLimit(0)
	k.SetContainerPidsLimit("b", -1)
	if k.ContainerPidsLimit("b") != 0 || k.ContainerPidsLimit("a") != 3 {
		t.Fatalf("limits: a %d b %d", k.ContainerPidsLimit("a"), k.ContainerPidsLimit("b"))
	}
	k.mu.Lock()
	rb = k.pidsLimitReachedLocked("b")
	k.mu.Unlock()
	if rb {
		t.Fatal("a removed limit still holds")
	}
}
