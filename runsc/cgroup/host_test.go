package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHostCgroup drives a real cgroup of this host (skipped where none can
// be made): made with limits, joined by a running child and by the
// grandchild it forks afterwards, frozen and thawed, and removed with its
// default parent.
func TestHostCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	id := fmt.Sprintf("unit-%d", os.Getpid())
	pids := int64(8)
	mem := int64(64 << 20)
	linux := &specs.Linux{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: pids},
		Memory: &specs.LinuxMemory{Limit: &mem}}}
	root := t.TempDir()
	cg, err := Setup(root, root, id, linux, false)
	if err != nil {
		t.Skipf("no cgroup can be made here: %v", err)
	}
	defer cg.Destroy()
	var memFile, pidsDir string
	if cg.Mode == V2 {
		memFile, pidsDir = cg.Dirs[""]+"/memory.max", cg.Dirs[""]
	} else {
		memFile, pidsDir = cg.Dirs["memory"]+"/memory.limit_in_bytes", cg.Dirs["pids"]
	}
	if got, _ := readString(memFile); got != strconv.FormatInt(mem, 10) {
		t.Errorf("%s = %q, want %d", memFile, got, mem)
	}
	if got, _ := readString(pidsDir + "/pids.max"); got != strconv.FormatInt(HostPidsLimit(pids), 10) {
		t.Errorf("pids.max = %q, want %d", got, HostPidsLimit(pids))
	}

	// The child forks its own child only once it is told (a line on
	// its stdin) that Join has returned: that one is born in cg.
	cmd := exec.Command("sh", "-c", "read go; sleep 100 & echo $!; wait")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if err := cg.Join(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("go\n"))
	var grandchild int
	if _, err := fmt.Fscan(stdout, &grandchild); err != nil {
		t.Fatal(err)
	}
	procs := cg.Procs()
	sort.Ints(procs)
	want := []int{cmd.Process.Pid, grandchild}
	sort.Ints(want)
	if !reflect.DeepEqual(procs, want) {
		t.Errorf("procs %v, want only the child and its child %v (this process stays out)", procs, want)
	}
	if err := cg.Freeze(); err != nil || cg.FreezerState() != "FROZEN" {
		t.Errorf("Freeze: %v, state %q", err, cg.FreezerState())
	}
	if err := cg.Thaw(); err != nil || cg.FreezerState() != "THAWED" {
		t.Errorf("Thaw: %v, state %q", err, cg.FreezerState())
	}
	cg.Freeze()
	start := time.Now()
	if err := cg.Destroy(); err != nil {
		t.Fatalf("Destroy of a frozen cgroup: %v", err)
	}
	for _, d := range cg.Created {
		if _, err := os.Stat(d); err == nil && !hasChildCgroups(d) {
			t.Errorf("%s left after Destroy", d)
		}
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Destroy took %v", time.Since(start))
	}
}

// TestHostUnified drives the v2 code on the host's real cgroup2 tree, with
// no controller limits (on a hybrid host the controllers are v1's):
// creation, membership, cgroup.freeze and removal.
func TestHostUnified(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	l, err := Detect()
	if err != nil || l.Unified == "" {
		t.Skip("no cgroup2 mount")
	}
	own, err := OwnCgroups()
	if err != nil {
		t.Fatal(err)
	}
	v2 := &Layout{Mode: V2, Unified: l.Unified}
	cg, err := v2.Resolve(fmt.Sprintf("rampart-unit-%d/c", os.Getpid()), own)
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(nil); err != nil {
		t.Skipf("cannot make a v2 cgroup here: %v", err)
	}
	defer cg.Destroy()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	if err := cg.Join(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	if p := cg.Procs(); len(p) != 1 || p[0] != cmd.Process.Pid {
		t.Errorf("procs %v, want [%d]", p, cmd.Process.Pid)
	}
	if err := cg.Freeze(); err != nil || cg.FreezerState() != "FROZEN" {
		t.Errorf("Freeze: %v, state %q", err, cg.FreezerState())
	}
	if err := cg.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for _, d := range cg.Created {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s left after Destroy", d)
		}
	}
}

// hasChildCgroups reports whether dir holds cgroups of others: a parent the
// test created (rampart/) stays while another container on the host (a test
// running in parallel) is in it, and Destroy rightly leaves it.
func hasChildCgroups(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() {
			return true
		}
	}
	return false
}
