package cmd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestThreadCapInSandbox runs testdata/threadcap.c in a sandbox on the
// systrap platform, whose address spaces hold at most 4095 threads (one
// stub slot each): creating threads that all stay alive must end with
// pthread_create failing with EAGAIN, the main thread plus 4094 others,
// while every thread created runs and joins, and the process exits 0.
// Before clone reserved a slot, the thread past the limit was created,
// then killed its thread group at its first run (issue 8).
//
// It is not a test/syscalls test: natively the program would run to the
// host's thread limit. It needs root (namespaces) and gcc with a static
// libc; it is skipped otherwise.
func TestThreadCapInSandbox(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("needs gcc")
	}
	src, err := filepath.Abs("testdata/threadcap.c")
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("/var/tmp", "rampart-threadcap-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	root := filepath.Join(base, "root")
	for _, d := range []string{"tmp", "dev", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(gcc, "-O2", "-Wall", "-Werror", "-static", "-pthread", "-o", filepath.Join(root, "threadcap"), src).CombinedOutput(); err != nil {
		t.Skipf("building a static C program: %v\n%s", err, out)
	}
	runsc := buildRunsc(t)
	cmd := exec.Command(runsc, "--root="+filepath.Join(base, "state"), "--platform=systrap", "do", "--root-dir="+root, "--", "/threadcap")
	out, err := cmd.CombinedOutput()
	// The main thread holds one of the address space's 4095 slots.
	want := fmt.Sprintf("created %d threads; then EAGAIN\n", 4095-1)
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("threadcap in the sandbox: %v\n%s\nwant %q", err, out, want)
	}
}
