package devpts

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{}

func (testCtx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// TestConsoleAPI opens a terminal as runsc's console does (without a
// kernel): the master's Terminal, unlock, replica, relay both ways,
// window size, and EIO on the master once the replica is closed.
func TestConsoleAPI(t *testing.T) {
	ctx := testCtx{}
	fs := New(nil, 1)
	impl, err := fs.ptmx.Open(ctx, vfs.VirtualDentry{}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	master := vfs.NewFileDescription(impl, vfs.VirtualDentry{}, unix.O_RDWR, vfs.FileDescriptionOptions{})
	defer master.DecRef(ctx)
	term := TerminalOf(master)
	if term == nil || term.Index() != 0 {
		t.Fatalf("TerminalOf: %v", term)
	}
	if TerminalOf(vfs.NewFileDescription(&dirFile{d: fs.root}, vfs.VirtualDentry{}, unix.O_RDONLY, vfs.FileDescriptionOptions{})) != nil {
		t.Error("TerminalOf of a directory")
	}
	if _, err := term.openReplica(ctx, unix.O_RDWR|unix.O_NOCTTY, true); err != unix.EIO {
		t.Fatalf("open of a locked replica: %v, want EIO", err)
	}
	term.Unlock()
	rimpl, err := term.openReplica(ctx, unix.O_RDWR|unix.O_NOCTTY, true)
	if err != nil {
		t.Fatal(err)
	}
	replica := vfs.NewFileDescription(rimpl, vfs.VirtualDentry{}, unix.O_RDWR, vfs.FileDescriptionOptions{})

	if _, err := master.Write(ctx, []byte("ls\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := replica.Read(ctx, buf); err != nil || string(buf[:n]) != "ls\n" {
		t.Errorf("replica read %q, %v", buf[:n], err)
	}
	if n, err := master.Read(ctx, buf); err != nil || string(buf[:n]) != "ls\r\n" {
		t.Errorf("echo %q, %v", buf[:n], err)
	}
	ws := unix.Winsize{Row: 50, Col: 132}
	term.SetWindowSize(ws)
	term.mu.Lock()
	got := term.ws
	term.mu.Unlock()
	if got != ws {
		t.Errorf("window size %+v, want %+v", got, ws)
	}

	if _, err := replica.Write(ctx, []byte("bye\n")); err != nil {
		t.Fatal(err)
	}
	replica.DecRef(ctx)
	if n, err := master.Read(ctx, buf); err != nil || string(buf[:n]) != "bye\r\n" {
		t.Errorf("output after close %q, %v", buf[:n], err)
	}
	if _, err := master.Read(ctx, buf); err != unix.EIO {
		t.Errorf("master read once the replica is closed: %v, want EIO", err)
	}
}
