package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHostCgroup drives a real cgroup of this host (skipped where none can
// be made): made with limits, entered by a child, frozen and thawed, and
// removed with its default parent.
func TestHostCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	id := fmt.Sprintf("unit-%d", os.Getpid())
	pids := int64(8)
	mem := int64(64 << 20)
	linux := &specs.Linux{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: pids},
		Memory: &specs.LinuxMemory{Limit: &mem}}}
	cg, err := Setup(t.TempDir(), id, linux, false)
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

	leave, err := cg.Enter()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "100")
	err = cmd.Start()
	leave()
	if err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	procs := cg.Procs()
	if len(procs) != 1 || procs[0] != cmd.Process.Pid {
		t.Errorf("procs %v, want only the child %d (the parent left)", procs, cmd.Process.Pid)
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
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s left after Destroy", d)
		}
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Destroy took %v", time.Since(start))
	}
}
