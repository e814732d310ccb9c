package cgroup

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.devices on the host: the v1 devices controller's
// allow/deny lists, written in config order as runc writes them, so that
// the sandbox's host processes (the sentry and its gofer) can open no
// host device the container may not. The application itself never opens
// a host device: its device nodes are the sentry's (runsc/boot's
// devices.go). Cgroup v2 controls devices with BPF programs, which this
// runtime does not load; there the sentry's own rule is the only one.

// DeviceRule returns rule in the devices.allow/deny syntax ("c 1:3 rwm")
// and whether it allows.
func DeviceRule(rule specs.LinuxDeviceCgroup) (string, bool, error) {
	typ := rule.Type
	switch typ {
	case "":
		typ = "a"
	case "a", "c", "b":
	default:
		return "", false, fmt.Errorf("linux.resources.devices: unknown device type %q", rule.Type)
	}
	access := rule.Access
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		if !strings.ContainsRune("rwm", c) {
			return "", false, fmt.Errorf("linux.resources.devices: bad access %q", rule.Access)
		}
	}
	num := func(n *int64) string {
		if n == nil || *n < 0 {
			return "*"
		}
		return fmt.Sprint(*n)
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(rule.Major), num(rule.Minor), access), rule.Allow, nil
}

// ApplyDevices writes rules to cg's v1 devices controller in order. It is
// a no-op without one (cgroup v2, or v1 without the controller).
func (cg *Cgroup) ApplyDevices(rules []specs.LinuxDeviceCgroup) error {
	d, ok := cg.Dirs["devices"]
	if !ok || cg.Mode == V2 {
		return nil
	}
	for _, r := range rules {
		line, allow, err := DeviceRule(r)
		if err != nil {
			return err
		}
		file := "devices.deny"
		if allow {
			file = "devices.allow"
		}
		if err := writeFile(d, file, line); err != nil {
			return err
		}
	}
	return nil
}
