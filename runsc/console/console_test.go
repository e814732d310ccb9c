package console

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSendMasterAsRunc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	master, replica, err := NewPty()
	if err != nil {
		t.Skipf("no host ptys: %v", err)
	}
	defer replica.Close()
	sock, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := sock.SendMaster(master); err != nil {
		t.Fatal(err)
	}
	master.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "/dev/ptmx" {
		t.Errorf("message %q, want /dev/ptmx", got)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v, %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v, %v", fds, err)
	}
	got := os.NewFile(uintptr(fds[0]), "master")
	defer got.Close()

	// The received master drives the replica.
	if _, err := got.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	n, err = replica.Read(buf)
	if err != nil || string(buf[:n]) != "hi\n" {
		t.Errorf("replica read %q, %v", buf[:n], err)
	}
	want := unix.Winsize{Row: 31, Col: 97}
	if err := SetWindowSize(int(got.Fd()), want); err != nil {
		t.Fatal(err)
	}
	if ws, err := WindowSize(int(replica.Fd())); err != nil || ws != want {
		t.Errorf("window size %+v, %v; want %+v", ws, err, want)
	}
}

func TestDialMissingSocket(t *testing.T) {
	_, err := Dial(filepath.Join(t.TempDir(), "nonexistent"))
	if err == nil || !strings.Contains(err.Error(), "connect: no such file or directory") {
		t.Fatalf("got %v", err)
	}
}

func TestMakeRawRestores(t *testing.T) {
	master, replica, err := NewPty()
	if err != nil {
		t.Skipf("no host ptys: %v", err)
	}
	defer master.Close()
	defer replica.Close()
	fd := int(replica.Fd())
	before, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := MakeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 {
		t.Errorf("not raw: lflag %#x oflag %#x", raw.Lflag, raw.Oflag)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	after, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if *after != *before {
		t.Errorf("not restored: %+v, want %+v", after, before)
	}
	if _, err := MakeRaw(int(os.Stdin.Fd())); err == nil && !IsTerminal(int(os.Stdin.Fd())) {
		t.Error("MakeRaw of a non-terminal succeeded")
	}
}
