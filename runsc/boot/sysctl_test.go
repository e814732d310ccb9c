package boot

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCheckSysctls(t *testing.T) {
	// docker 20.10 passes these two even with --network none.
	ok := map[string]string{
		"net.ipv4.ip_unprivileged_port_start": "0",
		"net.ipv4.ping_group_range":           "0 2147483647",
		"kernel.shmmax":                       "68719476736",
		"fs.mqueue.msg_max":                   "20",
		"kernel.domainname":                   "example.org",
	}
	if err := CheckSysctls(ok); err != nil {
		t.Errorf("CheckSysctls(%v) = %v", ok, err)
	}
	for key, want := range map[string]string{
		"vm.swappiness":          "not in a separate kernel namespace",
		"kernel.pid_max":         "not in a separate kernel namespace",
		"net.ipv4.no_such_thing": "not supported by the sandbox",
	} {
		err := CheckSysctls(map[string]string{key: "1"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSysctls(%s) = %v, want %q", key, err, want)
		}
	}
	if err := CheckSysctls(map[string]string{"net.ipv4.ip_forward": "on"}); err == nil {
		t.Error("CheckSysctls accepted a value that is not a number")
	}
}

func TestParseDevices(t *testing.T) {
	mode := os.FileMode(0o640)
	uid, gid := uint32(5), uint32(6)
	spec := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{
		{Path: "/dev/test1", Type: "c", Major: 10, Minor: 666, FileMode: &mode, UID: &uid, GID: &gid},
		{Path: "/dev/./b", Type: "b", Major: 8, Minor: 1},
		{Path: "/dev/p", Type: "p"},
		{Path: "/dev/u", Type: "u", Major: 1, Minor: 3},
	}}}
	devs, err := ParseDevices(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Path: "/dev/test1", Mode: unix.S_IFCHR | 0o640, Rdev: unix.Mkdev(10, 666), UID: 5, GID: 6},
		{Path: "/dev/b", Mode: unix.S_IFBLK | 0o666, Rdev: unix.Mkdev(8, 1)},
		{Path: "/dev/p", Mode: unix.S_IFIFO | 0o666},
		{Path: "/dev/u", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 3)},
	}
	for i := range want {
		if devs[i] != want[i] {
			t.Errorf("device %d = %+v, want %+v", i, devs[i], want[i])
		}
	}
	for _, bad := range []specs.LinuxDevice{
		{Path: "/etc/x", Type: "c"},
		{Path: "dev/x", Type: "c"},
		{Path: "/dev/../etc/x", Type: "c"},
		{Path: "/dev/x", Type: "s"},
		{Path: "/dev/x", Type: "c", Major: 1 << 20},
		{Path: "/dev/x", Type: "c", Minor: -1},
	} {
		if _, err := ParseDevices(&specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{bad}}}); err == nil {
			t.Errorf("ParseDevices accepted %+v", bad)
		}
	}
}
