package proc

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

// newTestProc mounts a procfs for a kernel without processes as the root
// of a fresh VFS.
func newTestProc(t *testing.T) (*vfs.VirtualFilesystem, vfs.VirtualDentry) {
	t.Helper()
	mf, err := memfile.New("proc-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	v := vfs.New()
	k := kernel.New(kernel.Config{VFS: v, MemoryFile: mf, NumCPU: 3, Hostname: "box"})
	fs := New(k, Options{DevMinor: 1, HostCPUInfo: "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse\n\nprocessor\t: 1\nmodel name\t: Test CPU\n\n"})
	root, err := v.NewRootMount(fs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.DecRef)
	return v, root
}

func readFile(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, path string) (string, error) {
	t.Helper()
	ctx := vfs.KernelContext{}
	fd, err := v.OpenAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: path, Follow: true}, &vfs.OpenOptions{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer fd.DecRef(ctx)
	var out []byte
	buf := make([]byte, 7) // small reads exercise the snapshot
	for {
		n, err := fd.Read(ctx, buf)
		if err != nil {
			return "", err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

func TestSystemFiles(t *testing.T) {
	v, root := newTestProc(t)
	for path, want := range map[string]string{
		"sys/kernel/osrelease":     osRelease + "\n",
		"sys/kernel/hostname":      "box\n",
		"sys/vm/overcommit_memory": "0\n",
		"sys/fs/nr_open":           "1048576\n",
		"sys/net/core/somaxconn":   "4096\n",
	} {
		got, err := readFile(t, v, root, path)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	ci, err := readFile(t, v, root, "cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(ci, "processor\t: "); n != 3 {
		t.Errorf("cpuinfo has %d processors, want 3:\n%s", n, ci)
	}
	if !strings.Contains(ci, "processor\t: 2\nmodel name\t: Test CPU\nflags\t\t: fpu sse\n") {
		t.Errorf("cpuinfo's third CPU is not a renumbered copy of the first:\n%s", ci)
	}
	mi, err := readFile(t, v, root, "meminfo")
	if err != nil || !strings.HasPrefix(mi, "MemTotal:       ") {
		t.Errorf("meminfo = %q, %v", mi, err)
	}
	st, err := readFile(t, v, root, "stat")
	if err != nil || !strings.HasPrefix(st, "cpu  ") || !strings.Contains(st, "\ncpu2 ") {
		t.Errorf("stat = %q, %v", st, err)
	}
	u1, _ := readFile(t, v, root, "sys/kernel/random/uuid")
	u2, _ := readFile(t, v, root, "sys/kernel/random/uuid")
	if len(u1) != 37 || u1 == u2 {
		t.Errorf("uuid reads %q then %q; want two different uuids", u1, u2)
	}
}

func TestSelfNeedsATask(t *testing.T) {
	v, root := newTestProc(t)
	if _, err := readFile(t, v, root, "self/stat"); err != unix.ENOENT {
		t.Errorf("self/stat from the boot context: %v, want ENOENT", err)
	}
	if _, err := readFile(t, v, root, "1/stat"); err != unix.ENOENT {
		t.Errorf("1/stat without processes: %v, want ENOENT", err)
	}
}

func TestRootListing(t *testing.T) {
	v, root := newTestProc(t)
	ctx := vfs.KernelContext{}
	fd, err := v.OpenAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/", Follow: true}, &vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(ctx)
	var names []string
	// Read one entry per call, as a small getdents buffer would.
	for {
		got := false
		fd.Getdents(ctx, func(d *vfs.Dirent) bool {
			if got {
				return false
			}
			got = true
			names = append(names, d.Name)
			return true
		})
		if !got {
			break
		}
	}
	want := ".,..,cmdline,cpuinfo,filesystems,loadavg,meminfo,mounts,net,self,stat,sys,thread-self,uptime,version"
	if strings.Join(names, ",") != want {
		t.Errorf("listing = %v, want %s", names, want)
	}
}

func TestHelpers(t *testing.T) {
	for _, c := range []struct {
		name string
		id   int
		ok   bool
	}{{"1", 1, true}, {"42", 42, true}, {"0", 0, true}, {"01", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"", 0, false}, {"99999999999", 0, false}} {
		id, ok := parseID(c.name)
		if ok != c.ok || (ok && id != c.id) {
			t.Errorf("parseID(%q) = %d, %v", c.name, id, ok)
		}
	}
	for n, want := range map[int]string{1: "1", 2: "3", 4: "f", 8: "ff", 12: "fff", 32: "ffffffff", 33: "00000001,ffffffff"} {
		if got := cpuMask(n); got != want {
			t.Errorf("cpuMask(%d) = %q, want %q", n, got, want)
		}
	}
	if got := cpuList(4); got != "0-3" {
		t.Errorf("cpuList(4) = %q", got)
	}
}
