package proc

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestSysctls(t *testing.T) {
	s := NewSysctls()
	if v, ok := s.Value("net/ipv4/ip_unprivileged_port_start"); !ok || v != "1024\n" {
		t.Errorf("ip_unprivileged_port_start default = %q, %v; want 1024", v, ok)
	}
	if err := s.Set("net/ipv4/ping_group_range", " 0   2147483647\n"); err != nil {
		t.Fatalf("Set ping_group_range: %v", err)
	}
	if v, _ := s.Value("net/ipv4/ping_group_range"); v != "0\t2147483647\n" {
		t.Errorf("ping_group_range = %q, want tab-separated fields", v)
	}
	for _, c := range []struct {
		p, data string
		want    error
	}{
		{"net/ipv4/ip_forward", "2", unix.EINVAL},       // out of range
		{"net/ipv4/ip_forward", "yes", unix.EINVAL},     // not a number
		{"net/ipv4/ip_forward", "1 1", unix.EINVAL},     // too many fields
		{"net/ipv4/ping_group_range", "1", unix.EINVAL}, // too few fields
		{"net/ipv4/ip_unprivileged_port_start", "-1", unix.EINVAL},
		{"net/ipv4/no_such", "1", unix.ENOENT},
		{"kernel/shmmax", "18446744073692774399", nil},
		{"net/ipv4/ip_forward", "1\n", nil},
	} {
		if err := s.Set(c.p, c.data); err != c.want {
			t.Errorf("Set(%q, %q) = %v, want %v", c.p, c.data, err, c.want)
		}
	}
	if s.Uint("net/ipv4/ip_forward") != 1 {
		t.Errorf("ip_forward after Set = %d, want 1", s.Uint("net/ipv4/ip_forward"))
	}
	// A refused write leaves the value alone.
	if v, _ := s.Value("net/ipv4/ping_group_range"); v != "0\t2147483647\n" {
		t.Errorf("ping_group_range after refused write = %q", v)
	}
}

func TestSysctlPath(t *testing.T) {
	for in, want := range map[string]string{
		"net.ipv4.ip_forward":  "net/ipv4/ip_forward",
		"net/ipv4/ip_forward":  "net/ipv4/ip_forward",
		"/net/ipv4/../ipv4/x/": "net/ipv4/x",
	} {
		if got := SysctlPath(in); got != want {
			t.Errorf("SysctlPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every writable sysctl has a file in the tree, and the fixed entries
// they replace are gone.
func TestSysctlTree(t *testing.T) {
	for _, d := range sysctlDefs {
		dir := sysDir
		var e *staticEntry
		parts := splitPath(d.path)
		for i, name := range parts {
			e = dir.Find(name)
			if e == nil {
				t.Fatalf("%s: no entry %q", d.path, name)
			}
			if i < len(parts)-1 {
				c := &inode{}
				e.Make(c)
				dir = c.Dir.(staticDir)
			}
		}
		if e.Mode&0o200 == 0 {
			t.Errorf("%s: mode %o is not writable", d.path, e.Mode)
		}
	}
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}
