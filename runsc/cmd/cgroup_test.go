package cmd_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sandbox/rampart/runsc/cgroup"
)

// TestCreateJoinFailure: when the gofer or the sandbox cannot be moved
// into the container's cgroup (a runsc built with joinFault makes the
// move fail once it is done, so that the process is in the cgroup in
// some hierarchies), create fails and says so, and leaves nothing: no
// gofer or sandbox process, no state directory, no cgroup directory
// (nor the per-root parent it made).
func TestCreateJoinFailure(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs busybox-static for the container's root")
	}
	layout, err := cgroup.Detect()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	own, err := cgroup.OwnCgroups()
	if err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	made := false
	for _, what := range []string{"gofer", "sandbox"} {
		t.Run(what, func(t *testing.T) {
			runsc := buildRunsc(t, "-ldflags=-X github.com/rampart-sandbox/rampart/runsc/cmd.joinFault="+what)
			if !made {
				sleepBundle(t, runsc, bundle)
				made = true
			}
			state := t.TempDir()
			id := "joinfail-" + what
			out, err := exec.Command(runsc, "--root="+state, "create", "--bundle", bundle, id).CombinedOutput()
			if err == nil {
				exec.Command(runsc, "--root="+state, "delete", "--force", id).Run()
				t.Fatalf("create succeeded with a failing move of the %s", what)
			}
			if want := "moving the " + what; !strings.Contains(string(out), want) {
				t.Errorf("create's error %q does not say %q", out, want)
			}
			if _, err := os.Stat(filepath.Join(state, id)); err == nil {
				t.Errorf("state directory of %s left", id)
			}
			cg, err := layout.Resolve(cgroup.DefaultPath(state, id), own)
			if err != nil {
				t.Fatal(err)
			}
			for c, d := range cg.Dirs {
				for _, dir := range []string{d, filepath.Dir(d)} {
					if _, err := os.Stat(dir); err == nil {
						t.Errorf("cgroup %s (%s) left", dir, c)
					}
				}
			}
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, f := range procs {
				cl, _ := os.ReadFile(f)
				if bytes.Contains(cl, []byte("--root="+rootfs+"\x00")) || bytes.Contains(cl, []byte("--id="+id+"\x00")) {
					t.Errorf("process %s left: %q", filepath.Dir(f), bytes.ReplaceAll(cl, []byte{0}, []byte{' '}))
				}
			}
		})
	}
}

// sleepBundle makes in bundle a bundle whose container runs sleep 30 in
// a busybox root, with the config.json of `runsc spec`.
func sleepBundle(t *testing.T, runsc, bundle string) {
	t.Helper()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile("/bin/busybox"); err != nil || os.WriteFile(filepath.Join(rootfs, "bin/busybox"), b, 0o755) != nil {
		t.Fatalf("copying busybox: %v", err)
	}
	if err := os.Symlink("busybox", filepath.Join(rootfs, "bin/sleep")); err != nil {
		t.Fatal(err)
	}
	spec := exec.Command(runsc, "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("runsc spec: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	proc := c["process"].(map[string]any)
	proc["args"], proc["terminal"] = []string{"/bin/sleep", "30"}, false
	if cfg, err = json.Marshal(c); err != nil || os.WriteFile(filepath.Join(bundle, "config.json"), cfg, 0o644) != nil {
		t.Fatalf("config.json: %v", err)
	}
}
