package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExitAs runs exitAs in a child (this test binary again) and checks
// what its parent's wait sees: death by the signal, without a core, for a
// signal whose default action ends a process, even one the Go runtime
// handles itself (SIGQUIT dumps goroutines, SIGUSR1 is ignored), and the
// exit code otherwise.
func TestExitAs(t *testing.T) {
	if v := os.Getenv("RAMPART_TEST_EXITAS"); v != "" {
		var code, sig int
		fmt.Sscan(v, &code, &sig)
		catchSignals() // as a stand-in does
		exitAs(code, unix.Signal(sig))
		return
	}
	for _, c := range []struct {
		code int
		sig  unix.Signal
		// wantSig is the signal the parent sees, or 0 for an exit with
		// code.
		wantSig unix.Signal
	}{
		{143, unix.SIGTERM, unix.SIGTERM},
		{131, unix.SIGQUIT, unix.SIGQUIT},
		{138, unix.SIGUSR1, unix.SIGUSR1},
		{134, unix.SIGABRT, unix.SIGABRT},
		{137, unix.SIGKILL, unix.SIGKILL},
		{7, 0, 0},
		// No process dies of SIGCONT: the code is kept.
		{146, unix.SIGCONT, 0},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitAs$")
		cmd.Env = append(os.Environ(), "RAMPART_TEST_EXITAS="+strconv.Itoa(c.code)+" "+strconv.Itoa(int(c.sig)))
		cmd.Dir = t.TempDir()
		cmd.Run()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case c.wantSig != 0 && (!ws.Signaled() || ws.Signal() != syscall.Signal(c.wantSig) || ws.CoreDump()):
			t.Errorf("exitAs(%d, %v): wait status %#x, want death by %v without a core", c.code, c.sig, ws, c.wantSig)
		case c.wantSig == 0 && (!ws.Exited() || ws.ExitStatus() != c.code):
			t.Errorf("exitAs(%d, %v): wait status %#x, want exit %d", c.code, c.sig, ws, c.code)
		}
		if ents, _ := os.ReadDir(cmd.Dir); len(ents) != 0 {
			t.Errorf("exitAs(%d, %v) left %s (a core?)", c.code, c.sig, ents[0].Name())
		}
	}
}
