package cmd

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/runsc/boot"
)

func TestCheckNamespaces(t *testing.T) {
	ns := func(n ...specs.LinuxNamespace) *specs.Spec { return &specs.Spec{Linux: &specs.Linux{Namespaces: n}} }
	for _, c := range []struct {
		spec *specs.Spec
		want string // "" for no error
	}{
		{ns(specs.LinuxNamespace{Type: "network", Path: "/proc/self/ns/net"}, specs.LinuxNamespace{Type: "pid"}), ""},
		{ns(specs.LinuxNamespace{Type: "ipc", Path: "/proc/self/ns/ipc"}), ""},
		{ns(specs.LinuxNamespace{Type: "network", Path: "/proc/self/ns/ipc"}), "a namespace of another type"},
		{ns(specs.LinuxNamespace{Type: "cgroup", Path: "/proc/self/ns/uts"}), "a namespace of another type"},
		{ns(specs.LinuxNamespace{Type: "network", Path: "/etc/hostname"}), "is not a namespace"},
		{ns(specs.LinuxNamespace{Type: "network", Path: "/nonexistent"}), "no such file"},
		{ns(specs.LinuxNamespace{Type: "bogus"}), `unknown type "bogus"`},
		{ns(specs.LinuxNamespace{Type: "pid"}, specs.LinuxNamespace{Type: "pid"}), "listed twice"},
	} {
		err := checkNamespaces(c.spec)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("checkNamespaces(%+v) = %v, want %q", c.spec.Linux.Namespaces, err, c.want)
		}
	}
	if p := netNSPath(ns(specs.LinuxNamespace{Type: "network", Path: "/run/netns/x"})); p != "/run/netns/x" {
		t.Errorf("netNSPath = %q", p)
	}
}

func TestUserNamespace(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{
		Namespaces:  []specs.LinuxNamespace{{Type: "user"}, {Type: "cgroup"}},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2000}},
	}}
	if err := checkUserNamespace(spec); err != nil {
		t.Fatal(err)
	}
	uns := userNamespace(spec)
	if uns == nil || len(uns.UIDMap) != 1 || uns.UIDMap[0].HostID != 1000 || uns.GIDMap[0].Size != 4294967295 {
		t.Errorf("userNamespace = %+v: want the uid map and the identity gid map", uns)
	}
	var c boot.Config
	if err := ociConfig(spec, &c); err != nil || c.UserNS == nil {
		t.Errorf("ociConfig: %v, UserNS %v", err, c.UserNS)
	}
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 1, HostID: 1000, Size: 10}}
	if err := checkUserNamespace(spec); err == nil || !strings.Contains(err.Error(), "container id 0 is not mapped") {
		t.Errorf("a map without container root: %v", err)
	}
	spec.Linux.Namespaces = nil
	if err := checkUserNamespace(spec); err == nil {
		t.Error("maps without a user namespace were accepted")
	}
}

func TestDeviceRules(t *testing.T) {
	m, n := int64(10), int64(200)
	spec := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &m, Minor: &n, Access: "rw"},
		{Allow: true, Type: "b", Major: &m},
	}}}}
	want := []dev.Rule{
		{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"},
		{Allow: true, Type: 'c', Major: 10, Minor: 200, Access: "rw"},
		{Allow: true, Type: 'b', Major: 10, Minor: -1, Access: "rwm"},
	}
	got := deviceRules(spec)
	if len(got) != len(want) {
		t.Fatalf("deviceRules = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Type: "x"})
	if err := checkDeviceRules(spec); err == nil {
		t.Error("a rule of unknown type was accepted")
	}
}
