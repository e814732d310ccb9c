package cmd_test

import (
	"bytes"
	"fmt"
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

	"github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/runsc/fence"
)

// TestSandboxFenced starts `runsc do -- sleep` and checks the sandbox
// process from outside, as DESIGN.md §1 describes it: seccomp filter mode
// with exactly the filter fence.Program builds from the pinned rules
// (read back with PTRACE_SECCOMP_GET_FILTER), no capability in any set,
// no_new_privs, and a root that is an empty directory but for a
// read-only procfs of the sandbox's own processes, not the host's;
// the platform's stubs alike (with their own filter). It needs root.
func TestSandboxFenced(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	do, sandbox := startSandbox(t)
	defer func() {
		do.Process.Kill()
		do.Wait()
	}()
	for _, pid := range append([]int{sandbox}, children(sandbox)...) {
		st := status(t, pid)
		for k, want := range map[string]string{"Seccomp": "2", "CapInh": "0000000000000000", "CapPrm": "0000000000000000",
			"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"} {
			if st[k] != want {
				t.Errorf("pid %d (sandbox %d): %s: %q, want %q", pid, sandbox, k, st[k], want)
			}
		}
		root := "/proc/" + strconv.Itoa(pid) + "/root"
		checkFencedRoot(t, root, sandbox)
		var a, b unix.Stat_t
		if unix.Stat(root, &a) != nil || unix.Stat("/", &b) != nil || (a.Dev == b.Dev && a.Ino == b.Ino) {
			t.Errorf("pid %d (sandbox %d): root is the host's", pid, sandbox)
		}
	}
	want, err := fence.Program(fence.Rules(fence.Options{MemoryFD: memoryFD(t, sandbox)}), fence.RetKillProcess)
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

// memoryFD returns the number of the sandbox's memory file descriptor
// (memfd:rampart-memory), which its filter names.
func memoryFD(t *testing.T, pid int) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "/memfd:rampart-memory") {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}
	}
	t.Fatalf("sandbox %d has no memfd:rampart-memory", pid)
	return -1
}

// TestContainerFenced creates and starts an OCI container (`runsc
// create` forks the sandbox and the gofer from threads with a reduced
// bounding set: create.go, startWithCaps) and checks every thread of its
// sandbox and stubs (seccomp filter, no capability in any set,
// no_new_privs) and of its gofer (seccomp filter, no capability outside
// gofer.KeepCapabilities, none inheritable or ambient). It needs root.
func TestContainerFenced(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs busybox-static for the container's root")
	}
	runsc := buildRunsc(t)
	bundle, state := t.TempDir(), t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	sleepBundle(t, runsc, bundle)
	// The container's stdio is a file: a pipe would stay open as long
	// as the container runs.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	rs := func(args ...string) error {
		cmd := exec.Command(runsc, append([]string{"--root=" + state}, args...)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			b, _ := os.ReadFile(out.Name())
			return fmt.Errorf("runsc %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	const id = "fenced"
	pidFile := filepath.Join(state, "pid")
	if err := rs("create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		t.Fatal(err)
	}
	defer rs("delete", "--force", id)
	if err := rs("start", id); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pidFile)
	sandbox, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %q", b)
	}
	// Fenced once the application's stub runs.
	for i := 0; i < 100 && len(children(sandbox)) < 2; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range append([]int{sandbox}, children(sandbox)...) {
		for tid, st := range taskStatus(t, pid) {
			for k, want := range map[string]string{"Seccomp": "2", "CapInh": "0000000000000000", "CapPrm": "0000000000000000",
				"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"} {
				if st[k] != want {
					t.Errorf("pid %d thread %d (sandbox %d): %s: %q, want %q", pid, tid, sandbox, k, st[k], want)
				}
			}
		}
	}
	checkFencedRoot(t, "/proc/"+strconv.Itoa(sandbox)+"/root", sandbox)
	var keep uint64
	for _, c := range gofer.KeepCapabilities {
		keep |= 1 << c
	}
	goferPid := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		if cl, _ := os.ReadFile(f); bytes.Contains(cl, []byte("\x00gofer\x00")) && bytes.Contains(cl, []byte("--root="+rootfs+"\x00")) {
			goferPid, _ = strconv.Atoi(strings.Split(f, "/")[2])
		}
	}
	if goferPid == 0 {
		t.Fatal("no gofer process")
	}
	for tid, st := range taskStatus(t, goferPid) {
		if st["Seccomp"] != "2" || st["CapInh"] != "0000000000000000" || st["CapAmb"] != "0000000000000000" {
			t.Errorf("gofer %d thread %d: Seccomp %q CapInh %q CapAmb %q", goferPid, tid, st["Seccomp"], st["CapInh"], st["CapAmb"])
		}
		for _, k := range []string{"CapPrm", "CapEff", "CapBnd"} {
			if v, err := strconv.ParseUint(st[k], 16, 64); err != nil || v&^keep != 0 {
				t.Errorf("gofer %d thread %d: %s: %q has more than %#x", goferPid, tid, k, st[k], keep)
			}
		}
	}
}

// taskStatus reads /proc/PID/task/TID/status of every thread of pid.
func taskStatus(t *testing.T, pid int) map[int]map[string]string {
	t.Helper()
	out := map[int]map[string]string{}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + e.Name() + "/status")
		if err != nil {
			continue // exited meanwhile
		}
		m := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				m[k] = strings.TrimSpace(v)
			}
		}
		out[tid] = m
	}
	if len(out) == 0 {
		t.Fatalf("pid %d has no thread", pid)
	}
	return out
}

// buildRunsc builds runsc into a temporary directory, with the extra go
// build flags given.
func buildRunsc(t *testing.T, flags ...string) string {
	t.Helper()
	runsc := filepath.Join(t.TempDir(), "runsc")
	args := append(append([]string{"build", "-o", runsc}, flags...), "github.com/rampart-sandbox/rampart/runsc")
	build := exec.Command("go", args...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building runsc: %v\n%s", err, out)
	}
	return runsc
}

// startSandbox builds runsc and starts `runsc do -- sleep 30`; it returns
// the do process and the sandbox's pid once the application runs.
func startSandbox(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	runsc := buildRunsc(t)
	do := exec.Command(runsc, "do", "--", "/bin/sleep", "30")
	if err := do.Start(); err != nil {
		t.Fatal(err)
	}
	var sandbox int
	for i := 0; i < 100 && sandbox == 0; i++ {
		time.Sleep(50 * time.Millisecond)
		// Fenced once the first stub (the application) runs.
		if c := bootChild(do.Process.Pid); c != 0 && len(children(c)) > 1 {
			sandbox = c
		}
	}
	if sandbox == 0 {
		do.Process.Kill()
		do.Wait()
		t.Fatal("no sandbox process with its stubs")
	}
	return do, sandbox
}

// TestSandboxKilledByFilter makes the real sentry run a syscall outside
// its allow-list (socket(2), injected at one of its own syscall
// instructions with ptrace) and checks that the filter kills the whole
// sandbox with SIGSYS, which `runsc do` reports as 128+31. It needs root.
func TestSandboxKilledByFilter(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	do, sandbox := startSandbox(t)
	defer func() {
		do.Process.Kill()
		do.Wait()
	}()
	if err := injectSocket(sandbox); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- do.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 128+int(unix.SIGSYS) {
			t.Fatalf("runsc do: %v, want exit status %d (the sandbox killed by SIGSYS)", err, 128+int(unix.SIGSYS))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox survived a socket(2) outside its allow-list")
	}
}

// injectSocket stops a thread of pid that sits in a syscall and makes it
// run socket(AF_INET, SOCK_STREAM, 0) at that syscall instruction.
func injectSocket(pid int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tids, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*")
	for _, d := range tids {
		tid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if err := unix.PtraceSeize(tid); err != nil {
			continue
		}
		if err := unix.PtraceInterrupt(tid); err != nil {
			unix.PtraceDetach(tid)
			continue
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(tid, &ws, unix.WALL, nil); err != nil {
			unix.PtraceDetach(tid)
			continue
		}
		var regs unix.PtraceRegs
		var insn [8]byte
		if unix.PtraceGetRegs(tid, &regs) != nil || regs.Rip < 2 {
			unix.PtraceDetach(tid)
			continue
		}
		if n, err := unix.PtracePeekText(tid, uintptr(regs.Rip-2), insn[:]); err != nil || n < 2 || insn[0] != 0x0f || insn[1] != 0x05 {
			unix.PtraceDetach(tid)
			continue
		}
		regs.Rip -= 2
		regs.Orig_rax = ^uint64(0) // no syscall restart
		regs.Rax = unix.SYS_SOCKET
		regs.Rdi, regs.Rsi, regs.Rdx = unix.AF_INET, unix.SOCK_STREAM, 0
		if err := unix.PtraceSetRegs(tid, &regs); err != nil {
			unix.PtraceDetach(tid)
			continue
		}
		return unix.PtraceDetach(tid)
	}
	return fmt.Errorf("no thread of %d stopped at a syscall instruction", pid)
}

// children are the child processes of pid (of all its threads).
// checkFencedRoot checks root, the root of a process of sandbox (its
// host pid): it holds only /proc (fence.mountProc), a read-only procfs
// that lists the sandbox process and its descendants alone, by their pids
// in the sandbox's PID namespace.
func checkFencedRoot(t *testing.T, root string, sandbox int) {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil || len(ents) != 1 || ents[0].Name() != "proc" {
		t.Errorf("%s (sandbox %d): not empty but for proc: %v %v", root, sandbox, ents, err)
		return
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(root+"/proc", &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC || fs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("%s/proc (sandbox %d): not a read-only procfs: type %#x flags %#x %v", root, sandbox, fs.Type, fs.Flags, err)
	}
	inner := map[string]bool{}
	for _, p := range append([]int{sandbox}, descendants(sandbox)...) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/status")
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" {
				inner[f[len(f)-1]] = true
			}
		}
	}
	procs, _ := os.ReadDir(root + "/proc")
	n := 0
	for _, e := range procs {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		n++
		if !inner[e.Name()] {
			// It may have just exited (a stub of an exiting process).
			if _, err := os.Stat(root + "/proc/" + e.Name()); err == nil {
				t.Errorf("%s/proc (sandbox %d) lists %s, which is no process of the sandbox (%v)", root, sandbox, e.Name(), inner)
			}
		}
	}
	if n == 0 || !inner["1"] {
		t.Errorf("%s/proc (sandbox %d): %d processes, sandbox's pids %v", root, sandbox, n, inner)
	}
}

// descendants returns the pids of pid's children, theirs, and so on.
func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

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

// bootChild returns the child of pid (a `runsc do`) that runs `runsc
// boot`, the sandbox, or 0 if it has none yet.
func bootChild(pid int) int {
	for _, c := range children(pid) {
		if cl, _ := os.ReadFile("/proc/" + strconv.Itoa(c) + "/cmdline"); bytes.Contains(cl, []byte("\x00boot\x00")) {
			return c
		}
	}
	return 0
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
