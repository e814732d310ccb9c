package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGoferEscape builds runsc and test/e2e/escapeprobe, serves a directory
// under /var/tmp as the sandbox's root (runsc do --root-dir) and checks that
// no path trick reads the canary file placed next to it on the host, while
// the host swaps a directory of the root for a symlink out of it in a loop.
// It needs root (namespaces, ptrace); it is skipped otherwise.
func TestGoferEscape(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	base, err := os.MkdirTemp("/var/tmp", "rampart-escape-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	root := filepath.Join(base, "root")
	canary := filepath.Join(base, "canary")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "dev", "proc", "sys", "sub", "swap"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(os.WriteFile(canary, []byte("CANARY\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "swap/canary"), []byte("inside\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "inside-canary"), []byte("CANARY\n"), 0o644))
	must(os.Symlink(canary, filepath.Join(root, "abs")))
	must(os.Symlink("../canary", filepath.Join(root, "rel")))
	must(os.Symlink("../../../../canary", filepath.Join(root, "sub/deeprel")))
	must(os.Symlink(base, filepath.Join(root, "dirlink")))

	runsc := filepath.Join(base, "runsc")
	probe := filepath.Join(root, "probe")
	for _, b := range [][2]string{{runsc, "github.com/rampart-sandbox/rampart/runsc"}, {probe, "github.com/rampart-sandbox/rampart/test/e2e/escapeprobe"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", b[1], err, out)
		}
	}

	// Swap /swap between a directory and a symlink to base until the
	// probe is done.
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		swap := filepath.Join(root, "swap")
		dir := filepath.Join(root, "swap.dir")
		link := filepath.Join(root, "swap.link")
		os.Symlink(base, link)
		for !stop.Load() {
			os.Rename(swap, dir)
			os.Rename(link, swap)
			os.Rename(swap, link)
			os.Rename(dir, swap)
		}
	}()
	out, err := exec.Command(runsc, "do", "--root-dir="+root, "--", "/probe", canary).CombinedOutput()
	stop.Store(true)
	wg.Wait()
	if strings.Contains(string(out), "ESCAPED") || err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "tried /swap/canary 3000 times") {
		t.Fatalf("probe did not finish:\n%s", out)
	}
	// The probe is not blind: a canary inside the served root, passed
	// as the "host" path, is found and reported.
	out, err = exec.Command(runsc, "do", "--root-dir="+root, "--", "/probe", "/inside-canary").CombinedOutput()
	if !strings.Contains(string(out), "ESCAPED /inside-canary") || err == nil {
		t.Fatalf("probe did not find a canary inside the root: %v\n%s", err, out)
	}
}
