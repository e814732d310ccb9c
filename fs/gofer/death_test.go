package gofer_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// TestMain lets the test binary act as a gofer process (on descriptor 3)
// for the tests that kill one.
func TestMain(m *testing.M) {
	switch mode := os.Getenv("GOFER_TEST_MODE"); mode {
	case "serve", "fenced":
		root, err := unix.Open(os.Getenv("GOFER_TEST_ROOT"), unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			os.Exit(2)
		}
		s, err := gproto.NewServer(root, 3, false)
		if err != nil {
			os.Exit(2)
		}
		if mode == "fenced" {
			// As `runsc gofer` does, less the chroot.
			if err := gproto.DropCapabilities(); err != nil {
				fmt.Println("caps:", err)
				os.Exit(2)
			}
			if err := gproto.InstallFilter(); err != nil {
				fmt.Println("seccomp:", err)
				os.Exit(2)
			}
		}
		fmt.Println("ready")
		s.Serve()
		os.Exit(0)
	case "hang":
		hangingGofer()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hangingGofer answers the version and attach exchanges and then never
// answers again: it prints "stuck" for each request it sits on.
func hangingGofer() {
	buf := make([]byte, gproto.MaxMessage)
	for {
		n, _, _, _, err := unix.Recvmsg(3, buf, nil, 0)
		if err != nil || n == 0 {
			return
		}
		var r gproto.Request
		if gproto.DecodeRequest(buf[:n], &r) != nil {
			return
		}
		var e gproto.Encoder
		e.Start(r.Tag, r.Type|0x8000)
		switch r.Type {
		case gproto.TVersion:
			e.U32(gproto.Version)
			e.U32(gproto.MaxMessage)
		case gproto.TAttach:
			a := gproto.Attr{Mode: unix.S_IFDIR | 0o755, Nlink: 2, Ino: 1, Dev: 1}
			e.U64(0)
			e.Attr(&a)
		case gproto.TClunk, gproto.TClunks:
			continue
		default:
			fmt.Println("stuck")
			continue
		}
		e.Finish()
		unix.Sendmsg(3, e.B, nil, nil, 0)
	}
}

// startGofer runs the test binary as a gofer in mode and returns the
// process, a line reader on its stdout, and a client filesystem on it.
func startGofer(t testing.TB, mode, root string, log func(string, ...any)) (*exec.Cmd, *bufio.Scanner, *gofer.Filesystem) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	child := os.NewFile(uintptr(fds[0]), "gofer-sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOFER_TEST_MODE="+mode, "GOFER_TEST_ROOT="+root)
	cmd.ExtraFiles = []*os.File{child}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	if mode != "hang" && (!lines.Scan() || lines.Text() != "ready") {
		t.Fatal("gofer did not start")
	}
	c, err := gproto.NewClient(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	gfs, err := gofer.New(fsutil.NewFakeMemoryFile(), c, gofer.Options{Writable: true, Debugf: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gfs.Close)
	return cmd, lines, gfs
}

// logCounter counts debug log lines.
type logCounter struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCounter) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logCounter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// TestGoferKilledMidRequest: a gofer killed while a request waits for its
// reply makes that request and every later one fail with EIO; the loss is
// logged once.
func TestGoferKilledMidRequest(t *testing.T) {
	var log logCounter
	cmd, lines, gfs := startGofer(t, "hang", "/", log.logf)
	v := vfs.New()
	root, err := v.NewRootMount(gfs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer root.DecRef()
	var done atomic.Bool
	errc := make(chan error, 1)
	go func() {
		_, _, err := v.StatAt(rootCtx, pop(root, "/etc"))
		done.Store(true)
		errc <- err
	}()
	if !lines.Scan() || lines.Text() != "stuck" {
		t.Fatal("the request did not reach the gofer")
	}
	time.Sleep(10 * time.Millisecond)
	if done.Load() {
		t.Fatal("the request returned before the gofer answered")
	}
	cmd.Process.Signal(unix.SIGKILL)
	select {
	case err := <-errc:
		if err != unix.EIO {
			t.Errorf("request in flight: %v, want EIO", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight never returned")
	}
	for _, p := range []string{"/etc", "/usr", "/new"} {
		if _, _, err := v.StatAt(rootCtx, pop(root, p)); err != unix.EIO {
			t.Errorf("stat %s after death: %v", p, err)
		}
	}
	if err := v.MkdirAt(rootCtx, pop(root, "/d"), 0o755); err != unix.EIO {
		t.Errorf("mkdir after death: %v", err)
	}
	if _, err := v.StatFSAt(rootCtx, pop(root, "/")); err != unix.EIO {
		t.Errorf("statfs after death: %v", err)
	}
	if n := log.count(); n != 1 {
		t.Errorf("logged %d times: %q", n, log.lines)
	}
}

// TestGoferKilledBetweenRequests: after the gofer dies, files opened
// before keep their donated descriptors; every gofer operation is EIO.
func TestGoferKilledBetweenRequests(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("kept"), 0o644)
	var log logCounter
	cmd, _, gfs := startGofer(t, "serve", dir, log.logf)
	v := vfs.New()
	root, err := v.NewRootMount(gfs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer root.DecRef()
	f := mustOpen(t, v, root, "/f", unix.O_RDWR)
	defer f.DecRef(rootCtx)
	cmd.Process.Signal(unix.SIGKILL)
	cmd.Wait()
	if _, err := open(v, root, "/g", unix.O_CREAT|unix.O_RDWR); err != unix.EIO {
		t.Errorf("create after death: %v", err)
	}
	if _, err := readAll(t, v, root, "/other"); err != unix.EIO {
		t.Errorf("lookup after death: %v", err)
	}
	if err := v.UnlinkAt(rootCtx, pop(root, "/f")); err != unix.EIO {
		t.Errorf("unlink after death: %v", err)
	}
	buf := make([]byte, 8)
	if n, err := f.PRead(rootCtx, buf, 0); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("read on a donated descriptor: %q %v", buf[:n], err)
	}
	if n := log.count(); n != 1 {
		t.Errorf("logged %d times", n)
	}
}
