package cgroup

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerPath returns the cgroup path of container id: linux.cgroupsPath
// or DefaultPath. With systemd (--systemd-cgroup) the path is runc's
// "slice:prefix:name"; Rampart does not ask systemd for a scope unit: it
// makes the cgroup a scope would have (ParseSystemdPath) with cgroupfs,
// whether systemd runs or not. A path in that form without
// --systemd-cgroup is taken the same way when it cannot be a plain path
// (it has two colons and no slash).
func ContainerPath(id string, linux *specs.Linux, systemd bool) (string, error) {
	p := ""
	if linux != nil {
		p = linux.CgroupsPath
	}
	looksSystemd := strings.Count(p, ":") == 2 && !strings.Contains(p, "/")
	switch {
	case systemd && p == "":
		return ParseSystemdPath("system.slice:rampart:" + id)
	case systemd || looksSystemd:
		return ParseSystemdPath(p)
	case p == "":
		return DefaultPath(id), nil
	}
	return p, nil
}

// Setup creates the cgroup of container id, applies spec's
// linux.resources and saves the cgroup in the state directory stateDir.
// It returns the cgroup and the runtime's own cgroups (for Leave).
func Setup(stateDir, id string, linux *specs.Linux, systemd bool) (*Cgroup, error) {
	path, err := ContainerPath(id, linux, systemd)
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
	if path == DefaultPath(id) {
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

// Enter moves the calling process into cg, so that the processes it
// starts until the returned function is called (the gofer, the sandbox
// and through it the stubs) are born there; the function moves it back.
func (cg *Cgroup) Enter() (func(), error) {
	l, err := Detect()
	if err != nil {
		return nil, err
	}
	own, err := OwnCgroups()
	if err != nil {
		return nil, err
	}
	if err := cg.Join(os.Getpid()); err != nil {
		Leave(l, os.Getpid(), own)
		return nil, err
	}
	return func() { Leave(l, os.Getpid(), own) }, nil
}
