package cmd_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSentryMemoryAfterPrograms: the sentry's own memory does not grow
// with the programs a sandbox has run and reaped. Each program here reads
// /proc/self (as every static glibc program does at its start, for
// /proc/self/exe); the dentry cache kept each reaped process' /proc/<pid>,
// and through it the kernel's whole record of the process (task, address
// space, files): about 30 KB a program, 11 MB over the second phase.
func TestSentryMemoryAfterPrograms(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	runsc := buildRunsc(t)
	// Two phases of programs, the first to let the sentry's heap reach
	// its working size; after each the shell says so and waits.
	const script = `run() { i=0; while [ $i -lt $1 ]; do cat /proc/self/stat >/dev/null; i=$((i+1)); done; }
run 50; echo phase; read x; run 400; echo phase; read x`
	do := exec.Command(runsc, "do", "--", "/bin/sh", "-c", script)
	in, err := do.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := do.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	do.Stderr = &stderr
	if err := do.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		do.Process.Kill()
		do.Wait()
	}()
	out := bufio.NewReader(outPipe)
	// phase waits for the shell's mark and returns the sentry's anonymous
	// memory (its Go heap and stacks; not the memory file, which is
	// shared) in KiB.
	phase := func() int {
		t.Helper()
		line := make(chan string, 1)
		go func() {
			l, _ := out.ReadString('\n')
			line <- l
		}()
		select {
		case l := <-line:
			if strings.TrimSpace(l) != "phase" {
				t.Fatalf("the shell printed %q, want phase; stderr: %s", l, stderr.String())
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("no phase mark within 2 minutes")
		}
		sandbox := bootChild(do.Process.Pid)
		if sandbox == 0 {
			t.Fatal("no sandbox process")
		}
		kb, err := strconv.Atoi(strings.TrimSuffix(status(t, sandbox)["RssAnon"], " kB"))
		if err != nil {
			t.Fatalf("RssAnon of the sandbox: %v", err)
		}
		return kb
	}
	before := phase()
	io.WriteString(in, "\n")
	after := phase()
	io.WriteString(in, "\n")
	t.Logf("sentry anonymous memory: %d KiB after 50 programs, %d KiB after 400 more", before, after)
	if after-before > 6<<10 {
		t.Errorf("the sentry's anonymous memory grew by %d KiB over 400 programs run and reaped, want under 6 MiB", after-before)
	}
}
