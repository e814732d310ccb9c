package vfs

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// sweepNode is a directory, or a node of it that can expire (as a reaped
// process' /proc directory does). Only what the dentry cache calls is
// implemented.
type sweepNode struct {
	Inode
	mode     uint32
	expired  bool
	released int
	kids     map[string]*sweepNode
}

func (n *sweepNode) Perms() (uint32, auth.KUID, auth.KGID) { return n.mode, 0, 0 }
func (n *sweepNode) Release()                              { n.released++ }
func (n *sweepNode) Expired() bool                         { return n.expired }
func (n *sweepNode) Valid(Context) bool                    { return !n.expired }

func (n *sweepNode) Lookup(_ Context, name string) (Inode, error) {
	k, ok := n.kids[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return k, nil
}

// TestSweepExpired: nodes that expire and are never looked up again leave
// a directory's cache as it grows (each one kept the kernel's record of a
// dead process before: /proc/<pid> of every process that read
// /proc/self), live ones stay cached, and an expired one still held is
// only marked dead, released when its holder lets go.
func TestSweepExpired(t *testing.T) {
	dir := &sweepNode{mode: unix.S_IFDIR | 0o555, kids: map[string]*sweepNode{}}
	parent := newDentry(dir, nil, "")
	var v *VirtualFilesystem
	// lookup returns a reference, as the resolver's lookups do.
	lookup := func(name string) *Dentry {
		d, err := v.lookupChild(nil, parent, name, lookupIntent{})
		if err != nil {
			t.Fatalf("lookup %q: %v", name, err)
		}
		return d
	}
	const n = 10000
	var live []*Dentry
	var held *Dentry
	var heldNode *sweepNode
	for i := 0; i < n; i++ {
		name := strconv.Itoa(i)
		node := &sweepNode{mode: unix.S_IFDIR | 0o555}
		dir.kids[name] = node
		// Most nodes are gone by the time of their lookup already (the
		// process died meanwhile): the lookup that caches one, and
		// sweeps, still returns it alive.
		node.expired = i%100 != 0 && i != 5
		d := lookup(name)
		if node.released != 0 || d.inode == nil {
			t.Fatalf("lookup %d returned a dentry its own sweep released", i)
		}
		switch {
		case i%100 == 0:
			live = append(live, d)
		case i == 5:
			held, heldNode = d, node // keeps the lookup's reference
			node.expired = true
			continue
		}
		d.decRef()
	}
	parent.mu.Lock()
	cached := len(parent.children)
	parent.mu.Unlock()
	if max := 2*len(live) + 2*minSweep; cached > max {
		t.Errorf("%d dentries cached after %d lookups of which %d live, want at most %d", cached, n, len(live), max)
	}
	for i, d := range live {
		got := lookup(strconv.Itoa(i * 100))
		if got != d {
			t.Errorf("live node %d was dropped from the cache", i*100)
		}
		got.decRef()
	}
	released := 0
	for _, node := range dir.kids {
		released += node.released
	}
	// Every expired node is released, still cached (swept later) or the
	// held one.
	if want := n - len(live) - (cached - len(live)) - 1; released != want {
		t.Errorf("%d expired nodes released, want %d", released, want)
	}
	if heldNode.released != 0 {
		t.Fatalf("an expired node still held was released")
	}
	held.mu.Lock()
	dead := held.dead
	held.mu.Unlock()
	if !dead {
		t.Errorf("an expired node still held was not marked dead")
	}
	// childLocked, whose callers hold what it returns without a reference
	// of their own (rename looks up two names), never sweeps.
	for j := 0; j <= 4*minSweep; j++ {
		dir.kids["x"+strconv.Itoa(j)] = &sweepNode{mode: unix.S_IFDIR | 0o555, expired: true}
	}
	parent.mu.Lock()
	first, err := parent.childLocked(nil, "x0")
	for j := 1; err == nil && j <= 4*minSweep; j++ {
		_, err = parent.childLocked(nil, "x"+strconv.Itoa(j))
	}
	if err != nil || first.inode == nil {
		t.Errorf("childLocked swept a dentry its caller held (err %v)", err)
	}
	parent.mu.Unlock()

	held.decRef()
	if heldNode.released != 1 {
		t.Errorf("an expired node was released %d times after its holder let go, want 1", heldNode.released)
	}
}
