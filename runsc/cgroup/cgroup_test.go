package cgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const hybridMountinfo = `24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
40 24 0:35 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
41 40 0:36 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
42 40 0:37 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
43 40 0:38 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
44 40 0:39 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
45 40 0:40 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
46 40 0:41 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestParseMountInfo(t *testing.T) {
	l := ParseMountInfo(strings.NewReader(hybridMountinfo))
	if l.Mode != Hybrid || l.Unified != "/sys/fs/cgroup/unified" {
		t.Errorf("hybrid: mode %v unified %q", l.Mode, l.Unified)
	}
	want := map[string]string{"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct",
		"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids"}
	if !reflect.DeepEqual(l.V1, want) {
		t.Errorf("v1 mounts %v, want %v", l.V1, want)
	}

	comounted := "41 40 0:36 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
	l = ParseMountInfo(strings.NewReader(comounted))
	if l.Mode != V1 || l.V1["cpu"] != "/sys/fs/cgroup/cpu,cpuacct" || l.V1["cpuacct"] != l.V1["cpu"] {
		t.Errorf("v1 comounted: %+v", l)
	}

	v2 := "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
	l = ParseMountInfo(strings.NewReader(v2))
	if l.Mode != V2 || l.Unified != "/sys/fs/cgroup" {
		t.Errorf("v2: %+v", l)
	}
	if l := ParseMountInfo(strings.NewReader("30 1 8:1 / / rw - ext4 /dev/sda1 rw\n")); l.Mode != 0 {
		t.Errorf("no cgroup: mode %v", l.Mode)
	}
	esc := `46 40 0:41 / /mnt/cg\040two rw - cgroup2 cgroup2 rw` + "\n"
	if l := ParseMountInfo(strings.NewReader(esc)); l.Unified != "/mnt/cg two" {
		t.Errorf("escaped mount point: %q", l.Unified)
	}
}

func TestParseProcCgroup(t *testing.T) {
	in := "9:name=systemd:/\n4:memory:/a/b\n1:cpu,cpuacct:/c\n0::/user.slice/x.scope\n"
	got := ParseProcCgroup(strings.NewReader(in))
	want := map[string]string{"name=systemd": "/", "memory": "/a/b", "cpu": "/c", "cpuacct": "/c", "": "/user.slice/x.scope"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestResolve(t *testing.T) {
	v1 := &Layout{Mode: Hybrid, V1: map[string]string{"memory": "/cg/memory", "pids": "/cg/pids"}, Unified: "/cg/unified"}
	own := map[string]string{"memory": "/job/7", "pids": "/", "": "/sess/me.scope"}
	for _, tc := range []struct {
		layout *Layout
		path   string
		want   map[string]string
	}{
		// Absolute: below each hierarchy's root.
		{v1, "/ctr/a", map[string]string{"memory": "/cg/memory/ctr/a", "pids": "/cg/pids/ctr/a"}},
		// Relative: below the runtime's own v1 cgroups.
		{v1, "rampart/a", map[string]string{"memory": "/cg/memory/job/7/rampart/a", "pids": "/cg/pids/rampart/a"}},
		// v2 relative: beside the runtime's own cgroup (its parent).
		{&Layout{Mode: V2, Unified: "/cg"}, "rampart/a", map[string]string{"": "/cg/sess/rampart/a"}},
		{&Layout{Mode: V2, Unified: "/cg"}, "/x/y", map[string]string{"": "/cg/x/y"}},
	} {
		cg, err := tc.layout.Resolve(tc.path, own)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if !reflect.DeepEqual(cg.Dirs, tc.want) {
			t.Errorf("%s (%v): %v, want %v", tc.path, tc.layout.Mode, cg.Dirs, tc.want)
		}
	}
	for _, bad := range []string{"", "../x", "a/../../x"} {
		if _, err := v1.Resolve(bad, own); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
}

func TestSystemdPath(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice:docker:abc":        "/system.slice/docker-abc.scope",
		":runc:abc":                      "/system.slice/runc-abc.scope",
		"user-1000.slice:podman:x":       "/user.slice/user-1000.slice/podman-x.scope",
		"machine.slice:libpod:a-b":       "/machine.slice/libpod-a-b.scope",
		"system.slice:x:kubepods.slice":  "/kubepods.slice",
		"-.slice:p:n":                    "/p-n.scope",
		"a-b-c.slice:p:kubepods-b.slice": "/kubepods.slice/kubepods-b.slice",
	} {
		got, err := ParseSystemdPath(in)
		if err != nil || got != want {
			t.Errorf("ParseSystemdPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/a/b", "a:b", "x:y:z", "system.slice:p:", "-a.slice:p:n", "a--b.slice:p:n"} {
		if got, err := ParseSystemdPath(bad); err == nil {
			t.Errorf("ParseSystemdPath(%q) = %q, want an error", bad, got)
		}
	}
}

func TestContainerPath(t *testing.T) {
	other := "rampart-" + sha256Prefix("/tmp/suite/state")
	for _, tc := range []struct {
		root    string
		path    string
		systemd bool
		want    string
	}{
		{DefaultRoot, "", false, "rampart/c"},
		{DefaultRoot + "/", "", false, "rampart/c"},
		{"/tmp/suite/state", "", false, other + "/c"},
		{"/tmp/suite/./state/", "", false, other + "/c"},
		{"/tmp/suite/state", "/abs/p", false, "/abs/p"},
		{"/tmp/suite/state", "rel/p", false, "rel/p"},
		{DefaultRoot, "rel/p", false, "rel/p"},
		{DefaultRoot, "system.slice:pfx:c", false, "/system.slice/pfx-c.scope"},
		{"/tmp/suite/state", "system.slice:pfx:c", true, "/system.slice/pfx-c.scope"},
		{DefaultRoot, "", true, "/system.slice/rampart-c.scope"},
		{"/tmp/suite/state", "", true, "/system.slice/" + other + "-c.scope"},
	} {
		got, err := ContainerPath(tc.root, "c", &specs.Linux{CgroupsPath: tc.path}, tc.systemd)
		if err != nil || got != tc.want {
			t.Errorf("ContainerPath(%q, %q, systemd %v) = %q, %v; want %q", tc.root, tc.path, tc.systemd, got, err, tc.want)
		}
	}
	if _, err := ContainerPath(DefaultRoot, "c", &specs.Linux{CgroupsPath: "/a/b"}, true); err == nil {
		t.Error("a plain path with --systemd-cgroup was accepted")
	}
}

// TestDefaultPathPerRoot: the same id under two roots gets two cgroups
// (issue 6: two test suites killed each other's containers), a relative
// root is taken from the working directory, and the name is a valid
// relative cgroup path.
func TestDefaultPathPerRoot(t *testing.T) {
	a, b := DefaultPath("/tmp/a/state", "t1"), DefaultPath("/tmp/b/state", "t1")
	if a == b {
		t.Errorf("roots /tmp/a/state and /tmp/b/state share cgroup %q", a)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if rel, abs := DefaultPath("state", "t1"), DefaultPath(filepath.Join(wd, "state"), "t1"); rel != abs {
		t.Errorf("relative root: %q, absolute: %q", rel, abs)
	}
	if !regexp.MustCompile(`^rampart-[0-9a-f]{8}/t1$`).MatchString(a) {
		t.Errorf("DefaultPath = %q, want rampart-<8 hex digits>/t1", a)
	}
}

// sha256Prefix is the first 8 hex digits of s's SHA-256, as
// test/e2e/cgroup.sh computes them with sha256sum.
func sha256Prefix(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func TestConversions(t *testing.T) {
	for shares, weight := range map[uint64]uint64{0: 0, 2: 1, 1024: 39, 512: 20, 262144: 10000, 1: 1, 1 << 20: 10000} {
		if got := SharesToWeight(shares); got != weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, weight)
		}
	}
	for _, tc := range []struct {
		swap, mem, want int64
		err             bool
	}{
		{0, -1, -1, false},
		{-1, 100, -1, false},
		{0, 100, 0, false},
		{300, 100, 200, false},
		{100, 100, 0, false},
		{50, 100, 0, true},
		{300, 0, 0, true},
		{300, -1, 0, true},
	} {
		got, err := SwapV2(tc.swap, tc.mem)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("SwapV2(%d, %d) = %d, %v; want %d (error %v)", tc.swap, tc.mem, got, err, tc.want, tc.err)
		}
	}
	if HostPidsLimit(0) != -1 || HostPidsLimit(-1) != -1 || HostPidsLimit(10) <= 10 {
		t.Error("HostPidsLimit")
	}
	for _, lim := range []int64{1 << 20, 64 << 20, 128 << 20, 4 << 30} {
		s := SentryMemoryLimit(lim)
		if s == 0 || s >= uint64(lim) || s < uint64(lim)/2 {
			t.Errorf("SentryMemoryLimit(%d) = %d", lim, s)
		}
	}
	if SentryMemoryLimit(0) != 0 || SentryMemoryLimit(-1) != 0 {
		t.Error("SentryMemoryLimit of no limit")
	}
}

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func fakeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readBack(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := readString(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The controller files a cgroup filesystem would offer, in a plain
// directory: what Apply writes is read back.
func TestApplyV2(t *testing.T) {
	d := filepath.Join(t.TempDir(), "ctr")
	fakeFiles(t, d, "memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max")
	cg := &Cgroup{Mode: V2, Dirs: map[string]string{"": d}}
	r := &Resources{Memory: i64p(256 << 20), MemoryReservation: i64p(128 << 20), MemorySwap: i64p(512 << 20),
		CPUShares: u64p(1024), CPUQuota: i64p(50000), CPUPeriod: u64p(100000), CpusetCpus: "0", CpusetMems: "0", Pids: i64p(32)}
	if err := cg.Apply(r); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"memory.max": "268435456", "memory.low": "134217728", "memory.swap.max": "268435456",
		"cpu.weight": "39", "cpu.max": "50000 100000", "cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "256"} {
		if got := readBack(t, d, f); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	// An update of the quota alone keeps the period; unlimited values
	// read "max".
	if err := cg.Apply(&Resources{CPUQuota: i64p(-1), Memory: i64p(-1), Pids: i64p(-1)}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"cpu.max": "max 100000", "memory.max": "max", "pids.max": "max"} {
		if got := readBack(t, d, f); got != want {
			t.Errorf("after update: %s = %q, want %q", f, got, want)
		}
	}
	if err := cg.Apply(&Resources{MemorySwap: i64p(1), Memory: i64p(100)}); err == nil {
		t.Error("swap below memory accepted")
	}
}

func TestApplyV1(t *testing.T) {
	root := t.TempDir()
	dirs := map[string]string{}
	for _, c := range []string{"memory", "cpu", "cpuset", "pids"} {
		dirs[c] = filepath.Join(root, c, "ctr")
	}
	fakeFiles(t, dirs["memory"], "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes")
	fakeFiles(t, dirs["cpu"], "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us")
	fakeFiles(t, dirs["cpuset"], "cpuset.cpus", "cpuset.mems")
	fakeFiles(t, dirs["pids"], "pids.max")
	cg := &Cgroup{Mode: V1, Dirs: dirs}
	r := &Resources{Memory: i64p(256 << 20), MemoryReservation: i64p(128 << 20), MemorySwap: i64p(512 << 20),
		CPUShares: u64p(512), CPUQuota: i64p(20000), CPUPeriod: u64p(50000), CpusetCpus: "0-1", Pids: i64p(10)}
	if err := cg.Apply(r); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ c, f, want string }{
		{"memory", "memory.limit_in_bytes", "268435456"}, {"memory", "memory.soft_limit_in_bytes", "134217728"},
		{"memory", "memory.memsw.limit_in_bytes", "536870912"}, {"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "20000"}, {"cpu", "cpu.cfs_period_us", "50000"},
		{"cpuset", "cpuset.cpus", "0-1"}, {"pids", "pids.max", "168"},
	} {
		if got := readBack(t, dirs[x.c], x.f); got != x.want {
			t.Errorf("%s = %q, want %q", x.f, got, x.want)
		}
	}
	if cg.Resources.Memory == nil || *cg.Resources.Memory != 256<<20 || *cg.Resources.Pids != 10 {
		t.Errorf("applied resources not recorded: %+v", cg.Resources)
	}
	if err := cg.Apply(&Resources{CPUShares: u64p(1)}); err == nil {
		t.Error("cpu shares of 1 accepted")
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if cg, err := Load(dir); cg != nil || err != nil {
		t.Fatalf("Load of nothing: %v, %v", cg, err)
	}
	cg := &Cgroup{Mode: V2, Root: "/r", Dirs: map[string]string{"": "/r/x"}, Created: []string{"/r/x"}, Resources: Resources{Pids: i64p(3)}}
	if err := cg.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || !reflect.DeepEqual(got, cg) {
		t.Fatalf("Load = %+v, %v; want %+v", got, err, cg)
	}
}
