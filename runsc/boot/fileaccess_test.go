package boot_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileAccessShared runs `runsc --file-access=shared do` on the host
// root and checks that the sandbox sees a change the host makes to a
// file it has read already (a longer content, a new name), where the
// default (exclusive) may keep what it cached. It needs root (namespaces,
// ptrace); it is skipped otherwise.
func TestFileAccessShared(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a sandbox")
	}
	if testing.Short() {
		t.Skip("builds and runs a sandbox")
	}
	base, err := os.MkdirTemp("/var/tmp", "rampart-fileaccess-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	runsc := filepath.Join(base, "runsc")
	cmd := exec.Command("go", "build", "-o", runsc, "github.com/rampart-sandbox/rampart/runsc")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building runsc: %v\n%s", err, out)
	}
	f := filepath.Join(base, "f")
	if err := os.WriteFile(f, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The sandbox stats and reads f and lists base, says so, waits for a line on
	// stdin (sent once the host changed both), and reads them again.
	script := fmt.Sprintf("stat -c %%s %[1]s/f; cat %[1]s/f; ls %[1]s; echo read; read l; stat -c %%s %[1]s/f; cat %[1]s/f; ls %[1]s", base)
	c := exec.Command(runsc, "--file-access=shared", "do", "--", "/bin/sh", "-c", script)
	stdin, _ := c.StdinPipe()
	stdout, _ := c.StdoutPipe()
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte, 1)
	go func() {
		var out []byte
		buf := make([]byte, 4096)
		changed := false
		for {
			n, err := stdout.Read(buf)
			out = append(out, buf[:n]...)
			if !changed && strings.Contains(string(out), "read\n") {
				changed = true
				os.WriteFile(f, []byte("two, longer\n"), 0o644)
				os.WriteFile(filepath.Join(base, "g"), nil, 0o644)
				stdin.Write([]byte("go\n"))
			}
			if err != nil {
				done <- out
				return
			}
		}
	}()
	var out []byte
	select {
	case out = <-done:
	case <-time.After(2 * time.Minute):
		c.Process.Kill()
		t.Fatal("sandbox timed out")
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("runsc: %v\n%s", err, out)
	}
	want := "4\none\nf\nrunsc\nread\n12\ntwo, longer\nf\ng\nrunsc\n"
	if string(out) != want {
		t.Errorf("sandbox output:\n%s\nwant:\n%s", out, want)
	}
}
