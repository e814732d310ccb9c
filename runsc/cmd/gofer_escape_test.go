package cmd_test

import (
	"encoding/json"
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

// TestGoferBindEscape runs the probe in an OCI container (runsc run) whose
// config.json bind-mounts host directories and a file that lie next to the
// canary: symlinks inside a bind source pointing out of it, ".." at a bind
// root, a bind source reached through a host symlink, and a destination
// that is a symlink in the rootfs pointing out of it must never reach the
// canary.
func TestGoferBindEscape(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	base, err := os.MkdirTemp("/var/tmp", "rampart-bindescape-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(base, "bundle", "rootfs")
	src := filepath.Join(base, "src")
	canary := filepath.Join(base, "canary")
	for _, d := range []string{"tmp", "dev", "proc", "sys", "b1", "b2", "b3", "inside", filepath.Join(src, "sub")} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		must(os.MkdirAll(d, 0o755))
	}
	must(os.WriteFile(filepath.Join(root, "bfile"), nil, 0o644))
	must(os.WriteFile(canary, []byte("CANARY\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "inside-canary"), []byte("CANARY\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "sub/marker"), []byte("CANARY\n"), 0o644))
	must(os.Symlink(canary, filepath.Join(src, "abs")))
	must(os.Symlink("../canary", filepath.Join(src, "rel")))
	must(os.Symlink("../../../../canary", filepath.Join(src, "sub/deeprel")))
	must(os.Symlink(base, filepath.Join(src, "dirlink")))
	must(os.Symlink(src, filepath.Join(base, "srclink")))
	// A destination symlink out of the rootfs (to the canary's directory
	// on the host): resolved in the sandbox, it lands on /inside.
	must(os.Symlink("/../../../../inside", filepath.Join(root, "dlink")))

	runsc := filepath.Join(base, "runsc")
	probe := filepath.Join(root, "probe")
	for _, b := range [][2]string{{runsc, "github.com/rampart-sandbox/rampart/runsc"}, {probe, "github.com/rampart-sandbox/rampart/test/e2e/escapeprobe"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", b[1], err, out)
		}
	}
	bind := func(dst, src string) map[string]any {
		return map[string]any{"destination": dst, "type": "bind", "source": src, "options": []string{"rbind", "ro"}}
	}
	run := func(id string, args ...string) (string, error) {
		cfg := map[string]any{
			"ociVersion": "1.0.2",
			"process": map[string]any{"user": map[string]int{"uid": 0, "gid": 0}, "args": append([]string{"/probe", canary}, args...),
				"env": []string{"PATH=/"}, "cwd": "/"},
			"root": map[string]any{"path": "rootfs", "readonly": true},
			"mounts": []any{bind("/b1", src), bind("/b2", filepath.Join(base, "srclink")), bind("/bfile", canary),
				bind("/dlink", filepath.Join(src, "sub"))},
		}
		b, err := json.Marshal(cfg)
		must(err)
		must(os.WriteFile(filepath.Join(base, "bundle", "config.json"), b, 0o644))
		cmd := exec.Command(runsc, "--root="+filepath.Join(base, "state"), "run", "--bundle="+filepath.Join(base, "bundle"), id)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tries := []string{"/b1/abs", "/b1/rel", "/b1/sub/deeprel", "/b1/dirlink/canary", "/b1/../canary", "/b1/../../canary",
		"/b2/abs", "/b2/rel", "/b2/../canary", "/b2/sub/deeprel", "/dlink/deeprel", "/dlink/../canary", "/inside/deeprel",
		"/inside/../canary", "/proc/self/root/b1/../canary"}
	out, err := run("escape", tries...)
	if strings.Contains(out, "ESCAPED") || err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	if !strings.Contains(out, "tried /proc/self/root/b1/../canary") {
		t.Fatalf("probe did not finish:\n%s", out)
	}
	// The probe is not blind: a canary inside a bind source is found
	// directly, through the symlinked source and where the destination
	// symlink landed (/inside), and so is the file bind of the canary
	// itself (a legitimate bind of it).
	out, _ = run("control", "/b1/inside-canary", "/b2/inside-canary", "/inside/marker", "/bfile")
	for _, p := range []string{"/b1/inside-canary", "/b2/inside-canary", "/inside/marker", "/bfile"} {
		if !strings.Contains(out, "ESCAPED "+p) {
			t.Fatalf("probe did not find %s:\n%s", p, out)
		}
	}
}

// jsonStrings renders ss as a JSON array.
func jsonStrings(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}
