package cgroup

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerPath returns the cgroup path of container id of the runtime
// whose --root is root: linux.cgroupsPath or DefaultPath. With systemd (--systemd-cgroup) the path is runc's
// "slice:prefix:name"; Rampart does not ask systemd for a scope unit: it
// makes the cgroup a scope would have (ParseSystemdPath) with cgroupfs,
// whether systemd runs or not. A path in that form without
// --systemd-cgroup is taken the same way when it cannot be a plain path
// (it has two colons and no slash).
//
// Without a path, the systemd form's scope is named like DefaultPath:
// "rampart-ID.scope" for DefaultRoot, "rampart-HASH-ID.scope" for any
// other root.
func ContainerPath(root, id string, linux *specs.Linux, systemd bool) (string, error) {
	p := ""
	if linux != nil {
		p = linux.CgroupsPath
	}
	looksSystemd := strings.Count(p, ":") == 2 && !strings.Contains(p, "/")
	switch {
	case systemd && p == "":
		return ParseSystemdPath("system.slice:" + DefaultPrefix(root) + ":" + id)
	case systemd || looksSystemd:
		return ParseSystemdPath(p)
	case p == "":
		return DefaultPath(root, id), nil
	}
	return p, nil
}

// Setup creates the cgroup of container id of the runtime whose --root
// is root, applies spec's linux.resources and saves the cgroup in the
// container's state directory stateDir. The caller moves the
// container's processes into it (Join).
func Setup(stateDir, root, id string, linux *specs.Linux, systemd bool) (*Cgroup, error) {
	path, err := ContainerPath(root, id, linux, systemd)
	if err != nil {
		return nil, err
	}
	l, err := Detect()
	if err != nil {
		return nil, err
	}
	own, err := OwnCgroups()
	if err != nil {
		return nil, err
	}
	cg, err := l.Resolve(path, own)
	if err != nil {
		return nil, err
	}
	var r *Resources
	if linux != nil {
		r = FromSpec(linux.Resources)
	}
	err = cg.Create(r)
	if path == DefaultPath(root, id) {
		cg.adoptParents()
	}
	if err != nil {
		cg.Destroy()
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	if err := cg.Save(stateDir); err != nil {
		cg.Destroy()
		return nil, err
	}
	return cg, nil
}
