package cmd_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/fence"
)

// TestSandboxFenced starts `runsc do -- sleep` and checks the sandbox
// process from outside, as DESIGN.md §1 describes it: seccomp filter mode
// with exactly the filter fence.Program builds from the pinned rules
// (read back with PTRACE_SECCOMP_GET_FILTER), no capability in any set,
// no_new_privs, and a root that is an empty directory, not the host's;
// the platform's stubs alike (with their own filter). It needs root.
func TestSandboxFenced(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	dir := t.TempDir()
	runsc := filepath.Join(dir, "runsc")
	build := exec.Command("go", "build", "-o", runsc, "github.com/rampart-sandbox/rampart/runsc")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building runsc: %v\n%s", err, out)
	}
	do := exec.Command(runsc, "do", "--", "/bin/sleep", "30")
	if err := do.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		do.Process.Kill()
		do.Wait()
	}()
	var sandbox int
	for i := 0; i < 100 && sandbox == 0; i++ {
		time.Sleep(50 * time.Millisecond)
		for _, c := range children(do.Process.Pid) {
			if cl, _ := os.ReadFile("/proc/" + strconv.Itoa(c) + "/cmdline"); bytes.Contains(cl, []byte("\x00boot\x00")) {
				// Fenced once the first stub (the application) runs.
				if len(children(c)) > 1 {
					sandbox = c
				}
			}
		}
	}
	if sandbox == 0 {
		t.Fatal("no sandbox process with its stubs")
	}
	for _, pid := range append([]int{sandbox}, children(sandbox)...) {
		st := status(t, pid)
		for k, want := range map[string]string{"Seccomp": "2", "CapInh": "0000000000000000", "CapPrm": "0000000000000000",
			"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"} {
			if st[k] != want {
				t.Errorf("pid %d (sandbox %d): %s: %q, want %q", pid, sandbox, k, st[k], want)
			}
		}
		root := "/proc/" + strconv.Itoa(pid) + "/root"
		ents, err := os.ReadDir(root)
		if err != nil || len(ents) != 0 {
			t.Errorf("pid %d (sandbox %d): root is not empty: %v %v", pid, sandbox, ents, err)
		}
		var a, b unix.Stat_t
		if unix.Stat(root, &a) != nil || unix.Stat("/", &b) != nil || (a.Dev == b.Dev && a.Ino == b.Ino) {
			t.Errorf("pid %d (sandbox %d): root is the host's", pid, sandbox)
		}
	}
	want, err := fence.Program(fence.Rules(fence.Options{}), fence.RetKillProcess)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seccompFilter(sandbox)
	if err != nil {
		t.Fatalf("reading the sandbox's filter: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("the sandbox's filter has %d instructions, fence.Program %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("the sandbox's filter differs from fence.Program at %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// children are the child processes of pid (of all its threads).
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func status(t *testing.T, pid int) map[string]string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// seccompFilter reads the first seccomp filter of pid's main thread:
// PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_SECCOMP_GET_FILTER, detach.
func seccompFilter(pid int) ([]unix.SockFilter, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ptrace := func(req, pid int, addr, data uintptr) (uintptr, error) {
		r, _, e := syscall.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
		if e != 0 {
			return 0, e
		}
		return r, nil
	}
	if _, err := ptrace(unix.PTRACE_SEIZE, pid, 0, 0); err != nil {
		return nil, err
	}
	defer ptrace(unix.PTRACE_DETACH, pid, 0, 0)
	if _, err := ptrace(unix.PTRACE_INTERRUPT, pid, 0, 0); err != nil {
		return nil, err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return nil, err
	}
	const ptraceSeccompGetFilter = 0x420c
	buf := make([]unix.SockFilter, unix.BPF_MAXINSNS)
	n, err := ptrace(ptraceSeccompGetFilter, pid, 0, uintptr(unsafe.Pointer(&buf[0])))
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
