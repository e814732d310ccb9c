package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/cgroup"
	"github.com/rampart-sandbox/rampart/runsc/flags"
)

// ociConfig adds to c the parts of config.json that are the sandbox's own
// view of the container: linux.sysctl, linux.devices,
// process.oomScoreAdj, and the network of a joined network namespace. create calls it on a scratch Config first, so
// that a bad value fails before anything exists.
func ociConfig(spec *specs.Spec, c *boot.Config) error {
	if err := checkNamespaces(spec); err != nil {
		return err
	}
	if err := checkDeviceRules(spec); err != nil {
		return err
	}
	c.DeviceRules = deviceRules(spec)
	if err := checkUserNamespace(spec); err != nil {
		return err
	}
	c.UserNS = userNamespace(spec)
	// A joined network namespace is the sandbox's network: its inet
	// sockets are host sockets there (hostinet), showing its interfaces.
	if netNSPath(spec) != "" {
		c.HostNetwork = true
	}
	if spec.Linux != nil && len(spec.Linux.Sysctl) > 0 {
		if err := boot.CheckSysctls(spec.Linux.Sysctl); err != nil {
			return err
		}
		c.Sysctls = spec.Linux.Sysctl
	}
	devs, err := boot.ParseDevices(spec)
	if err != nil {
		return err
	}
	c.Devices = devs
	if p := spec.Process; p != nil && p.OOMScoreAdj != nil {
		v := *p.OOMScoreAdj
		if v < -1000 || v > 1000 {
			return fmt.Errorf("process.oomScoreAdj: %d is not in [-1000, 1000]", v)
		}
		c.OOMScoreAdj = &v
	}
	return nil
}

// namespaceTypes are linux.namespaces' types and the CLONE_NEW* flag
// NS_GET_NSTYPE reports for each.
var namespaceTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// checkNamespaces checks linux.namespaces: known types, each at most once,
// and a path, where given, that is a namespace of that type. Only the
// network namespace's path is joined (netNSPath: that is how CNI gives a
// container its network); the application never sees the host's other
// namespaces (its pid, mount, IPC, UTS and user namespaces are the
// sentry's), so the sandbox process keeps its own and a path for them is
// checked and otherwise ignored.
func checkNamespaces(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		flag, ok := namespaceTypes[ns.Type]
		if !ok {
			return fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces: type %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path == "" {
			continue
		}
		f, err := os.Open(ns.Path)
		if err != nil {
			return fmt.Errorf("linux.namespaces: %s namespace path: %w", ns.Type, err)
		}
		t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
		f.Close()
		if err != nil {
			return fmt.Errorf("linux.namespaces: %s namespace path %s is not a namespace", ns.Type, ns.Path)
		}
		if t != flag {
			return fmt.Errorf("linux.namespaces: %s namespace path %s is a namespace of another type", ns.Type, ns.Path)
		}
	}
	return nil
}

// netNSPath is the path of the network namespace config.json asks the
// container to join, or "".
func netNSPath(spec *specs.Spec) string {
	if spec.Linux == nil {
		return ""
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return ns.Path
		}
	}
	return ""
}

// sandboxNetNamespace is the clone flag for the sandbox's network
// namespace: none when it joins config.json's (startInNetNS) or shares
// the host's (--network=host), else a new one.
func sandboxNetNamespace(g *flags.Global, spec *specs.Spec) uintptr {
	if netNSPath(spec) != "" {
		return 0
	}
	return g.NetNamespace()
}

// startInNetNS starts cmd in the network namespace at path ("": this
// process'). The child is forked from a thread of this process that
// has joined the namespace (a namespace is a thread's, and a child
// inherits its forking thread's); the thread goes back afterwards, or,
// if it cannot, dies with its goroutine instead of serving others.
func startInNetNS(cmd *exec.Cmd, path string) error {
	if path == "" {
		return cmd.Start()
	}
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("network namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("joining network namespace %s: %w", path, err)
	}
	err = cmd.Start()
	if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return err
}

// checkDeviceRules checks linux.resources.devices.
func checkDeviceRules(spec *specs.Spec) error {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return nil
	}
	for _, r := range spec.Linux.Resources.Devices {
		if _, _, err := cgroup.DeviceRule(r); err != nil {
			return err
		}
	}
	return nil
}

// applyDeviceRules applies linux.resources.devices to id's host cgroup.
// It runs once the sandbox and its gofer have started: starting them
// opens the host's /dev/null, which the rules usually forbid.
func applyDeviceRules(g *flags.Global, id string, spec *specs.Spec) error {
	if spec.Linux == nil || spec.Linux.Resources == nil || len(spec.Linux.Resources.Devices) == 0 {
		return nil
	}
	cg, err := cgroup.Load(store(g).Dir(id))
	if err != nil || cg == nil {
		return err
	}
	return cg.ApplyDevices(spec.Linux.Resources.Devices)
}

// userNamespace returns the user namespace config.json asks the sandbox
// process to run in (a "user" namespace without a path), or nil. Without
// maps, it maps every id to itself: the sandbox then has root's ids but
// no capability outside its namespace.
func userNamespace(spec *specs.Spec) *boot.UserNamespace {
	if spec.Linux == nil {
		return nil
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.UserNamespace || ns.Path != "" {
			continue
		}
		conv := func(m []specs.LinuxIDMapping) []proc.IDMapEntry {
			if len(m) == 0 {
				return []proc.IDMapEntry{{ContainerID: 0, HostID: 0, Size: 4294967295}}
			}
			out := make([]proc.IDMapEntry, len(m))
			for i, e := range m {
				out[i] = proc.IDMapEntry{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
			}
			return out
		}
		return &boot.UserNamespace{UIDMap: conv(spec.Linux.UIDMappings), GIDMap: conv(spec.Linux.GIDMappings)}
	}
	return nil
}

// checkUserNamespace checks linux.uidMappings and gidMappings: only with
// a user namespace, and each mapping container root.
func checkUserNamespace(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	uns := userNamespace(spec)
	if uns == nil {
		if len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0 {
			return fmt.Errorf("linux.uidMappings/gidMappings: no user namespace is asked for")
		}
		return nil
	}
	for _, m := range []struct {
		name string
		m    []proc.IDMapEntry
	}{{"linux.uidMappings", uns.UIDMap}, {"linux.gidMappings", uns.GIDMap}} {
		root := false
		for _, e := range m.m {
			if e.Size == 0 {
				return fmt.Errorf("%s: a mapping of size 0", m.name)
			}
			if e.ContainerID == 0 {
				root = true
			}
		}
		if !root {
			return fmt.Errorf("%s: container id 0 is not mapped (the sandbox runs as its user namespace's root)", m.name)
		}
	}
	return nil
}

// sandboxNamespaces adds to the sandbox process' attributes the user and
// cgroup namespaces config.json asks for (a type without a path): a new
// cgroup namespace, and a new user namespace with the config's maps,
// where the sandbox keeps every capability (ambient, for the exec of
// runsc boot as the host's root id, which is not the namespace's root)
// until boot.becomeNamespaceRoot and the fence.
func sandboxNamespaces(attr *syscall.SysProcAttr, spec *specs.Spec) {
	if spec.Linux == nil {
		return
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace && ns.Path == "" {
			attr.Cloneflags |= unix.CLONE_NEWCGROUP
		}
	}
	uns := userNamespace(spec)
	if uns == nil {
		return
	}
	conv := func(m []proc.IDMapEntry) []syscall.SysProcIDMap {
		out := make([]syscall.SysProcIDMap, len(m))
		for i, e := range m {
			out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
		}
		return out
	}
	attr.Cloneflags |= unix.CLONE_NEWUSER
	attr.UidMappings, attr.GidMappings = conv(uns.UIDMap), conv(uns.GIDMap)
	attr.GidMappingsEnableSetgroups = true
	for c := uintptr(0); c <= unix.CAP_LAST_CAP; c++ {
		attr.AmbientCaps = append(attr.AmbientCaps, c)
	}
}

// deviceRules returns linux.resources.devices as the sentry's device
// allow-list (nil without rules: every device allowed). The rules have
// been checked.
func deviceRules(spec *specs.Spec) []dev.Rule {
	if spec.Linux == nil || spec.Linux.Resources == nil || len(spec.Linux.Resources.Devices) == 0 {
		return nil
	}
	out := []dev.Rule{}
	num := func(n *int64) int64 {
		if n == nil || *n < 0 {
			return -1
		}
		return *n
	}
	for _, r := range spec.Linux.Resources.Devices {
		rule := dev.Rule{Allow: r.Allow, Type: 'a', Major: num(r.Major), Minor: num(r.Minor), Access: r.Access}
		if r.Type != "" {
			rule.Type = r.Type[0]
		}
		if rule.Access == "" {
			rule.Access = "rwm"
		}
		out = append(out, rule)
	}
	return out
}
