package gofer

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

var enableOnce sync.Once

// serveUDS starts a server on dir with the host-uds policy m.
func serveUDS(t *testing.T, dir string, readOnly bool, m HostUDS) *Client {
	t.Helper()
	enableOnce.Do(func() {
		proc, err := unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		home, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		EnableHostUDS(proc, home)
	})
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(root, fds[0], readOnly)
	if err != nil {
		t.Fatal(err)
	}
	s.SetHostUDS(m)
	done := make(chan struct{})
	go func() { s.Serve(); close(done) }()
	c, err := NewClient(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); <-done })
	return c
}

// listen starts a host listener at path that answers each connection's
// first message with "re:" and the message. (Raw sockets, not package
// net: that would link the cgo runtime into the test binary, whose
// threads are made by clone3, which the seccomp filter of
// TestFilterEnforced's children refuses.)
func listen(t *testing.T, path string) {
	t.Helper()
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(l, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 8); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Shutdown(l, unix.SHUT_RDWR) })
	go func() {
		defer unix.Close(l)
		for {
			c, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			buf := make([]byte, 64)
			n, _ := unix.Read(c, buf)
			if n < 0 {
				n = 0
			}
			unix.Write(c, append([]byte("re:"), buf[:n]...))
			unix.Close(c)
		}
	}()
}

// udsTree makes base/root with a host listener root/sock, a listener
// outside the root (base/outside) and symlinks to it from inside.
func udsTree(t *testing.T) (string, string) {
	base, err := os.MkdirTemp("", "uds") // short: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	listen(t, filepath.Join(root, "sock"))
	listen(t, filepath.Join(base, "outside"))
	os.Symlink(filepath.Join(base, "outside"), filepath.Join(root, "abs"))
	os.Symlink("../outside", filepath.Join(root, "rel"))
	return base, root
}

// exchange sends msg on fd and returns the reply.
func exchange(t *testing.T, fd int, msg string) string {
	t.Helper()
	unix.SetNonblock(fd, false)
	if _, err := unix.Write(fd, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func walk1(t *testing.T, c *Client, name string) uint64 {
	t.Helper()
	rfid, _, err := c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	fid, _, err := c.Walk1(rfid, name)
	if err != nil {
		t.Fatalf("walk %s: %v", name, err)
	}
	return fid
}

func TestHostUDSConnect(t *testing.T) {
	_, root := udsTree(t)
	c := serveUDS(t, root, true, HostUDSOpen)
	fd, err := c.Connect(walk1(t, c, "sock"), unix.SOCK_STREAM)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if got := exchange(t, fd, "hi"); got != "re:hi" {
		t.Errorf("reply %q", got)
	}
	unix.Close(fd)
	// Symlinks out of the root are walked as symlinks and never
	// followed to the listener behind them.
	for _, name := range []string{"abs", "rel"} {
		if fd, err := c.Connect(walk1(t, c, name), unix.SOCK_STREAM); err == nil {
			unix.Close(fd)
			t.Errorf("connect through symlink %s reached a socket", name)
		}
	}
	// A socket walked, then swapped for a symlink that leads out: the
	// gofer connects to what it checked, or to nothing.
	fid := walk1(t, c, "sock")
	os.Rename(filepath.Join(root, "sock"), filepath.Join(root, "sock.old"))
	os.Symlink("../outside", filepath.Join(root, "sock"))
	if fd, err := c.Connect(fid, unix.SOCK_STREAM); err != unix.ECONNREFUSED {
		if err == nil {
			unix.Close(fd)
		}
		t.Errorf("connect after swap: %v, want ECONNREFUSED", err)
	}
	// Not a socket, wrong type, unknown type.
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	if _, err := c.Connect(walk1(t, c, "file"), unix.SOCK_STREAM); err != unix.ECONNREFUSED {
		t.Errorf("connect to a regular file: %v", err)
	}
	if _, err := c.Connect(walk1(t, c, "sock.old"), unix.SOCK_DGRAM); err != unix.EPROTOTYPE {
		t.Errorf("dgram connect to a stream listener: %v", err)
	}
	if _, err := c.Connect(walk1(t, c, "sock.old"), unix.SOCK_RAW); err != unix.ESOCKTNOSUPPORT {
		t.Errorf("raw: %v", err)
	}
}

func TestHostUDSRefusedByDefault(t *testing.T) {
	_, root := udsTree(t)
	c := serveUDS(t, root, false, HostUDSNone)
	if _, err := c.Connect(walk1(t, c, "sock"), unix.SOCK_STREAM); err != unix.EPERM {
		t.Errorf("connect with none: %v, want EPERM", err)
	}
	rfid, _, _ := c.Attach()
	if _, _, err := c.Bind(rfid, "b", unix.SOCK_STREAM, 0o755, 0, 0); err != unix.EPERM {
		t.Errorf("bind with none: %v, want EPERM", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "b")); err == nil {
		t.Errorf("bind with none made a file")
	}
	// open does not allow bind, nor create a connect to others' sockets.
	o := serveUDS(t, root, false, HostUDSOpen)
	rfid, _, _ = o.Attach()
	if _, _, err := o.Bind(rfid, "b", unix.SOCK_STREAM, 0o755, 0, 0); err != unix.EPERM {
		t.Errorf("bind with open: %v, want EPERM", err)
	}
	cr := serveUDS(t, root, false, HostUDSCreate)
	if _, err := cr.Connect(walk1(t, cr, "sock"), unix.SOCK_STREAM); err != unix.EPERM {
		t.Errorf("connect to a host listener with create: %v, want EPERM", err)
	}
}

func TestHostUDSBind(t *testing.T) {
	_, root := udsTree(t)
	c := serveUDS(t, root, false, HostUDSCreate)
	rfid, _, _ := c.Attach()
	lfd, a, err := c.Bind(rfid, "b", unix.SOCK_STREAM, 0o700, 1234, 5678)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	defer unix.Close(lfd)
	// Bound, not listening: the sentry calls listen(2) itself.
	hc, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err := unix.Connect(hc, &unix.SockaddrUnix{Name: filepath.Join(root, "b")}); err != unix.ECONNREFUSED {
		t.Errorf("connect before listen: %v, want ECONNREFUSED", err)
	}
	unix.Close(hc)
	if err := unix.Listen(lfd, 4); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "b"), &st); err != nil || st.Mode != unix.S_IFSOCK|0o700 || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("socket file: %v %o %d:%d", err, st.Mode, st.Uid, st.Gid)
	}
	if a.Ino != st.Ino || a.Mode != st.Mode {
		t.Errorf("reply attributes %+v, host %+v", a, st)
	}
	// A host client reaches the listener the gofer donated.
	go func() {
		conn, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if unix.Connect(conn, &unix.SockaddrUnix{Name: filepath.Join(root, "b")}) == nil {
			unix.Write(conn, []byte("from host"))
		}
		unix.Close(conn)
	}()
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	unix.Poll(pfd, 5000)
	afd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	buf := make([]byte, 64)
	n, _ := unix.Read(afd, buf)
	unix.Close(afd)
	if string(buf[:n]) != "from host" {
		t.Errorf("read %q", buf[:n])
	}
	// The sandbox may connect to its own socket with create alone.
	cfd, err := c.Connect(walk1(t, c, "b"), unix.SOCK_STREAM)
	if err != nil {
		t.Errorf("connect to own socket: %v", err)
	} else {
		unix.Close(cfd)
	}
	// Existing names, symlinks included, are EADDRINUSE.
	for _, name := range []string{"b", "sock", "abs"} {
		if fd, _, err := c.Bind(rfid, name, unix.SOCK_STREAM, 0o755, 0, 0); err != unix.EADDRINUSE {
			if err == nil {
				unix.Close(fd)
			}
			t.Errorf("bind over %s: %v", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(root), "outside")); err != nil {
		t.Errorf("outside listener gone: %v", err)
	}
	// Datagram sockets are bound, not listening.
	dfd, _, err := c.Bind(rfid, "d", unix.SOCK_DGRAM, 0o755, 0, 0)
	if err != nil {
		t.Fatalf("bind dgram: %v", err)
	}
	defer unix.Close(dfd)
	s, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	defer unix.Close(s)
	if err := unix.Sendto(s, []byte("dg"), 0, &unix.SockaddrUnix{Name: filepath.Join(root, "d")}); err != nil {
		t.Fatalf("sendto: %v", err)
	}
	unix.SetNonblock(dfd, false)
	unix.SetsockoptTimeval(dfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	if n, _, err := unix.Recvfrom(dfd, buf, 0); err != nil || string(buf[:n]) != "dg" {
		t.Errorf("recv dgram: %v %q", err, buf[:n])
	}
	// Below a non-directory, and a read-only tree.
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	if _, _, err := c.Bind(walk1(t, c, "file"), "x", unix.SOCK_STREAM, 0o755, 0, 0); err == nil {
		t.Errorf("bind below a non-directory worked")
	}
	ro := serveUDS(t, root, true, HostUDSAll)
	rrfid, _, _ := ro.Attach()
	if _, _, err := ro.Bind(rrfid, "r", unix.SOCK_STREAM, 0o755, 0, 0); err != unix.EROFS {
		t.Errorf("bind on a read-only tree: %v", err)
	}
}
