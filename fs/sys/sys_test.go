package sys

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

type testCtx struct{}

var rootCreds = auth.NewRootCredentials()

func (testCtx) Credentials() *auth.Credentials      { return rootCreds }
func (testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// newTestTrees mounts a sysfs for a kernel of ncpu CPUs without processes
// as the root of a fresh VFS, and the cgroup view on /fs/cgroup.
func newTestTrees(t *testing.T, ncpu int, opts Options) (*vfs.VirtualFilesystem, vfs.VirtualDentry) {
	t.Helper()
	mf, err := memfile.New("sys-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	v := vfs.New()
	k := kernel.New(kernel.Config{VFS: v, MemoryFile: mf, NumCPU: ncpu, Hostname: "box"})
	root, err := v.NewRootMount(New(k, opts), vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.DecRef)
	if err := v.MountAt(testCtx{}, root, "/fs/cgroup", NewCgroup(k, opts), vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	return v, root
}

func pop(root vfs.VirtualDentry, path string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: root, Start: root, Path: path, Follow: true}
}

func readFile(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, path string) (string, error) {
	t.Helper()
	fd, err := v.OpenAt(testCtx{}, pop(root, path), &vfs.OpenOptions{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer fd.DecRef(testCtx{})
	var out []byte
	buf := make([]byte, 5)
	for {
		n, err := fd.Read(testCtx{}, buf)
		if err != nil {
			return "", err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

func list(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, path string) []string {
	t.Helper()
	fd, err := v.OpenAt(testCtx{}, pop(root, path), &vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer fd.DecRef(testCtx{})
	var names []string
	if err := fd.Getdents(testCtx{}, func(d *vfs.Dirent) bool {
		if d.Name != "." && d.Name != ".." {
			names = append(names, d.Name)
		}
		return true
	}); err != nil {
		t.Fatalf("getdents %s: %v", path, err)
	}
	return names
}

func TestCPUs(t *testing.T) {
	v, root := newTestTrees(t, 3, Options{})
	for path, want := range map[string]string{
		"devices/system/cpu/online":                             "0-2\n",
		"devices/system/cpu/possible":                           "0-2\n",
		"devices/system/cpu/present":                            "0-2\n",
		"devices/system/cpu/offline":                            "\n",
		"devices/system/cpu/kernel_max":                         "8191\n",
		"devices/system/cpu/cpu2/online":                        "1\n",
		"devices/system/cpu/cpu2/topology/core_id":              "2\n",
		"devices/system/cpu/cpu2/topology/physical_package_id":  "0\n",
		"devices/system/cpu/cpu2/topology/thread_siblings":      "4\n",
		"devices/system/cpu/cpu2/topology/thread_siblings_list": "2\n",
		"devices/system/cpu/cpu1/topology/core_siblings":        "7\n",
		"devices/system/cpu/cpu1/topology/core_siblings_list":   "0-2\n",
		"devices/system/cpu/cpu0/topology/core_cpus_list":       "0\n",
		"devices/system/cpu/cpu0/topology/package_cpus_list":    "0-2\n",
		"devices/system/node/online":                            "0\n",
		"devices/system/node/node0/cpulist":                     "0-2\n",
		"devices/system/node/node0/cpumap":                      "7\n",
		"kernel/mm/transparent_hugepage/enabled":                "always [madvise] never\n",
	} {
		got, err := readFile(t, v, root, path)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, missing := range []string{"devices/system/cpu/cpu3", "devices/system/cpu/cpu01", "devices/system/cpu/cpu0/online", "devices/system/cpu/cpu"} {
		if _, _, err := v.StatAt(testCtx{}, pop(root, missing)); err != unix.ENOENT {
			t.Errorf("stat %s: %v, want ENOENT", missing, err)
		}
	}
	cpus := list(t, v, root, "devices/system/cpu")
	if want := []string{"isolated", "kernel_max", "offline", "online", "possible", "present", "cpu0", "cpu1", "cpu2"}; !slices.Equal(cpus, want) {
		t.Errorf("cpu listing = %v, want %v", cpus, want)
	}
	if target, err := v.ReadlinkAt(testCtx{}, pop(root, "devices/system/cpu/cpu1/node0")); err != nil || target != "../../node/node0" {
		t.Errorf("cpu1/node0 = %q, %v", target, err)
	}
	// The link resolves within the tree.
	if got, err := readFile(t, v, root, "devices/system/cpu/cpu1/node0/cpulist"); err != nil || got != "0-2\n" {
		t.Errorf("cpu1/node0/cpulist = %q, %v", got, err)
	}
	mi, err := readFile(t, v, root, "devices/system/node/node0/meminfo")
	if err != nil || !strings.HasPrefix(mi, "Node 0 MemTotal:       ") {
		t.Errorf("node0/meminfo = %q, %v", mi, err)
	}
}

func TestShape(t *testing.T) {
	v, root := newTestTrees(t, 2, Options{})
	if got, want := list(t, v, root, "/"), []string{"block", "bus", "class", "dev", "devices", "firmware", "fs", "kernel", "module", "power"}; !slices.Equal(got, want) {
		t.Errorf("/ lists %v, want %v", got, want)
	}
	for path, want := range map[string]uint32{
		"/":                                      unix.S_IFDIR | 0o555,
		"class":                                  unix.S_IFDIR | 0o755,
		"devices/system/cpu":                     unix.S_IFDIR | 0o755,
		"devices/system/cpu/online":              unix.S_IFREG | 0o444,
		"devices/system/cpu/cpu1/online":         unix.S_IFREG | 0o644,
		"kernel/mm/transparent_hugepage/enabled": unix.S_IFREG | 0o644,
		"fs/cgroup":                              unix.S_IFDIR | 0o755,
		"fs/cgroup/cgroup.procs":                 unix.S_IFREG | 0o644,
		"fs/cgroup/cgroup.controllers":           unix.S_IFREG | 0o444,
	} {
		st, _, err := v.StatAt(testCtx{}, pop(root, path))
		if err != nil || st.Mode != want || st.UID != 0 || st.GID != 0 {
			t.Errorf("stat %s: mode %o uid %d gid %d, %v; want mode %o, root", path, st.Mode, st.UID, st.GID, err, want)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size != 4096 {
			t.Errorf("stat %s: size %d, want 4096", path, st.Size)
		}
	}
	for path, want := range map[string]int64{"/": sysfsMagic, "fs/cgroup": cgroup2Magic} {
		sfs, err := v.StatFSAt(testCtx{}, pop(root, path))
		if err != nil || sfs.Type != want {
			t.Errorf("statfs %s = %#x, %v; want %#x", path, sfs.Type, err, want)
		}
	}
	// Attributes accept no writes, even from root.
	for _, path := range []string{"devices/system/cpu/online", "devices/system/cpu/cpu1/online", "fs/cgroup/memory.max"} {
		if _, err := v.OpenAt(testCtx{}, pop(root, path), &vfs.OpenOptions{Flags: unix.O_WRONLY}); err != unix.EACCES {
			t.Errorf("open %s for writing: %v, want EACCES", path, err)
		}
	}
	if err := v.MkdirAt(testCtx{}, pop(root, "class/net"), 0o755); err == nil {
		t.Errorf("mkdir in class succeeded")
	}
}

func TestCgroup(t *testing.T) {
	v, root := newTestTrees(t, 4, Options{})
	for path, want := range map[string]string{
		"cgroup.controllers":    "cpuset cpu io memory pids\n",
		"cgroup.type":           "domain\n",
		"cgroup.procs":          "",
		"cgroup.threads":        "",
		"cpu.max":               "max 100000\n",
		"cpuset.cpus.effective": "0-3\n",
		"memory.max":            "max\n",
		"pids.max":              "max\n",
		"pids.current":          "0\n",
	} {
		got, err := readFile(t, v, root, "fs/cgroup/"+path)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	cur, err := readFile(t, v, root, "fs/cgroup/memory.current")
	if err != nil || !strings.HasSuffix(cur, "\n") || strings.Trim(cur, "0123456789\n") != "" {
		t.Errorf("memory.current = %q, %v", cur, err)
	}
	if st, err := readFile(t, v, root, "fs/cgroup/cpu.stat"); err != nil || !strings.HasPrefix(st, "usage_usec 0\n") {
		t.Errorf("cpu.stat = %q, %v", st, err)
	}

	v2, root2 := newTestTrees(t, 1, Options{MemoryLimit: 512 << 20})
	if got, err := readFile(t, v2, root2, "fs/cgroup/memory.max"); err != nil || got != "536870912\n" {
		t.Errorf("memory.max with a limit = %q, %v", got, err)
	}
	if got, err := readFile(t, v2, root2, "devices/system/node/node0/meminfo"); err != nil || !strings.HasPrefix(got, "Node 0 MemTotal:         524288 kB\n") {
		t.Errorf("node0/meminfo with a limit = %q, %v", got, err)
	}
	if got, err := readFile(t, v2, root2, "devices/system/cpu/online"); err != nil || got != "0\n" {
		t.Errorf("online with one CPU = %q, %v", got, err)
	}
}

func TestCPUMask(t *testing.T) {
	for _, c := range []struct {
		nbits, first, last int
		want               string
	}{
		{1, 0, 0, "1"},
		{2, 0, 1, "3"},
		{2, 1, 1, "2"},
		{5, 0, 0, "01"},
		{8, 0, 7, "ff"},
		{12, 4, 4, "010"},
		{32, 0, 31, "ffffffff"},
		{33, 0, 32, "1,ffffffff"},
		{33, 0, 0, "0,00000001"},
		{40, 32, 39, "ff,00000000"},
		{64, 0, 63, "ffffffff,ffffffff"},
	} {
		if got := cpuMask(c.nbits, c.first, c.last); got != c.want {
			t.Errorf("cpuMask(%d, %d, %d) = %q, want %q", c.nbits, c.first, c.last, got, c.want)
		}
	}
	if got := cpuRange(0, 0); got != "0" {
		t.Errorf("cpuRange(0, 0) = %q", got)
	}
	if got := cpuRange(0, 7); got != "0-7" {
		t.Errorf("cpuRange(0, 7) = %q", got)
	}
}
