package host_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/host"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{ out []byte }

func (c *testCtx) Credentials() *auth.Credentials     { return auth.NewRootCredentials() }
func (c *testCtx) CopyIn(uint64, []byte) (int, error) { return 0, unix.EFAULT }
func (c *testCtx) CopyOut(_ uint64, b []byte) (int, error) {
	c.out = append([]byte(nil), b...)
	return len(b), nil
}

func TestPipe(t *testing.T) {
	ctx := &testCtx{}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	r, err := host.NewFile(p[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.DecRef(ctx)
	w, err := host.NewFile(p[1])
	if err != nil {
		t.Fatal(err)
	}
	defer w.DecRef(ctx)
	if _, err := r.Write(ctx, []byte("x")); err != unix.EBADF {
		t.Errorf("write on read end: %v", err)
	}
	if n, err := w.Write(ctx, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	if _, err := r.Ioctl(ctx, 0x541B, 0x1000); err != nil || len(ctx.out) != 4 || ctx.out[0] != 5 {
		t.Errorf("FIONREAD: %v %v", err, ctx.out)
	}
	buf := make([]byte, 10)
	if n, err := r.Read(ctx, buf); n != 5 || err != nil || string(buf[:5]) != "hello" {
		t.Errorf("read = %d, %v, %q", n, err, buf[:n])
	}
	if _, err := r.Seek(ctx, 0, unix.SEEK_CUR); err != unix.ESPIPE {
		t.Errorf("lseek on pipe: %v", err)
	}
	if _, err := r.PRead(ctx, buf, 0); err != unix.ESPIPE {
		t.Errorf("pread on pipe: %v", err)
	}
	if _, err := r.Ioctl(ctx, unix.TCGETS, 0x1000); err != unix.ENOTTY {
		t.Errorf("TCGETS on pipe: %v", err)
	}
	if _, err := r.Ioctl(ctx, 0x12345, 0); err != unix.ENOTTY {
		t.Errorf("unknown ioctl: %v", err)
	}
	st, err := r.Stat(ctx)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fstat pipe: %o %v", st.Mode, err)
	}
	// The sentry's copy is independent of the host descriptor.
	unix.Close(p[1])
	if n, err := w.Write(ctx, []byte("!")); n != 1 || err != nil {
		t.Errorf("write after closing the original fd: %d %v", n, err)
	}
}

func TestRegularFile(t *testing.T) {
	ctx := &testCtx{}
	path := filepath.Join(t.TempDir(), "out")
	hf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	hf.WriteString("abc")
	f, err := host.NewFile(int(hf.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(ctx)
	if !f.Seekable() {
		t.Fatal("regular file not seekable")
	}
	if off, _ := f.Seek(ctx, 0, unix.SEEK_CUR); off != 3 {
		t.Errorf("initial offset %d", off)
	}
	if f.StatusFlags()&unix.O_APPEND == 0 {
		t.Error("O_APPEND lost")
	}
	f.Write(ctx, []byte("def"))
	if off, _ := f.Seek(ctx, 0, unix.SEEK_CUR); off != 6 {
		t.Errorf("offset after append %d", off)
	}
	buf := make([]byte, 10)
	if n, _ := f.PRead(ctx, buf, 0); string(buf[:n]) != "abcdef" {
		t.Errorf("pread %q", buf[:n])
	}
	st, _ := f.Stat(ctx)
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 6 {
		t.Errorf("stat %o %d", st.Mode, st.Size)
	}
}

func TestTTY(t *testing.T) {
	ptm, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no ptmx: %v", err)
	}
	defer unix.Close(ptm)
	if err := unix.IoctlSetPointerInt(ptm, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(ptm, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := unix.Open("/dev/pts/"+itoa(n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pts)
	ctx := &testCtx{}
	f, err := host.NewFile(pts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(ctx)
	st, _ := f.Stat(ctx)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("tty mode %o", st.Mode)
	}
	if _, err := f.Ioctl(ctx, unix.TCGETS, 0x1000); err != nil || len(ctx.out) != 36 {
		t.Fatalf("TCGETS: %v, %d bytes", err, len(ctx.out))
	}
	want, _ := unix.IoctlGetTermios(pts, unix.TCGETS)
	if got := uint32(ctx.out[12]) | uint32(ctx.out[13])<<8 | uint32(ctx.out[14])<<16 | uint32(ctx.out[15])<<24; got != want.Lflag {
		t.Errorf("lflag %x want %x", got, want.Lflag)
	}
	ws := unix.Winsize{Row: 33, Col: 77}
	if err := unix.IoctlSetWinsize(pts, unix.TIOCSWINSZ, &ws); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Ioctl(ctx, unix.TIOCGWINSZ, 0x1000); err != nil || len(ctx.out) != 8 || ctx.out[0] != 33 || ctx.out[2] != 77 {
		t.Errorf("TIOCGWINSZ: %v %v", err, ctx.out)
	}
	if _, err := f.Seek(ctx, 0, unix.SEEK_CUR); err != unix.ESPIPE {
		t.Errorf("lseek on tty: %v", err)
	}
	// A read blocks until the other side writes.
	go unix.Write(ptm, []byte("line\n"))
	buf := make([]byte, 64)
	if n, err := f.Read(ctx, buf); err != nil || string(buf[:n]) != "line\n" {
		t.Errorf("tty read %q %v", buf[:n], err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
