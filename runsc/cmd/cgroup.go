package cmd

import (
	"fmt"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/runsc/cgroup"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// The CLI's side of the container's cgroup (runsc/cgroup): made by create,
// entered while the sandbox's processes are started, frozen by pause,
// changed by update, read by events and removed by delete. Its
// directories are saved in the container's state directory.

// setupCgroup creates id's cgroup with spec's linux.resources. A host
// where no cgroup can be made fails create only if the container asks
// for limits or for a cgroup path.
func setupCgroup(g *flags.Global, id string, spec *specs.Spec) error {
	_, err := cgroup.Setup(store(g).Dir(id), id, spec.Linux, g.SystemdCgroup)
	if err != nil {
		if spec.Linux == nil || (spec.Linux.Resources == nil && spec.Linux.CgroupsPath == "") {
			logLine(g, "warning", fmt.Sprintf("container %q runs without a cgroup: %v", id, err))
			return nil
		}
		return err
	}
	return nil
}

// enterCgroup moves this process into id's cgroup until the returned
// function is called (it may be called more than once), so that the
// gofer and the sandbox it starts meanwhile are born there.
func enterCgroup(g *flags.Global, id string) func() {
	cg, err := cgroup.Load(store(g).Dir(id))
	if err != nil || cg == nil {
		return func() {}
	}
	leave, err := cg.Enter()
	if err != nil {
		logLine(g, "warning", fmt.Sprintf("container %q: joining its cgroup: %v", id, err))
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(leave) }
}

// destroyCgroup kills whatever is left in id's cgroup and removes it.
func destroyCgroup(g *flags.Global, id string) error {
	cg, err := cgroup.Load(store(g).Dir(id))
	if err != nil || cg == nil {
		return err
	}
	return cg.Destroy()
}

// freezeCgroup freezes (or thaws) id's cgroup, if it has one.
func freezeCgroup(g *flags.Global, id string, frozen bool) error {
	cg, err := cgroup.Load(store(g).Dir(id))
	if err != nil || cg == nil {
		return err
	}
	if frozen {
		return cg.Freeze()
	}
	return cg.Thaw()
}

// whileThawed runs call (a control request) with id's cgroup thawed if the
// container is paused: a frozen sandbox cannot answer. With refreeze the
// cgroup is frozen again afterwards.
func whileThawed(g *flags.Global, id string, paused, refreeze bool, call func() error) error {
	id, paused = podThawTarget(g, id, paused) // a pod member's sandbox (pod.go)
	if !paused {
		return call()
	}
	freezeCgroup(g, id, false)
	err := call()
	if refreeze {
		freezeCgroup(g, id, true)
	}
	return err
}

// sentryLimits are the limits the sentry enforces for resources r: the
// application's memory (cgroup.SentryMemoryLimit) and tasks. As in the
// cgroup files, 0 leaves a limit as it is and -1 removes it.
func sentryLimits(r *cgroup.Resources) *control.Limits {
	l := &control.Limits{}
	if r.Memory != nil && *r.Memory != 0 {
		var m uint64
		if *r.Memory > 0 {
			m = cgroup.SentryMemoryLimit(*r.Memory)
		}
		l.MemoryBytes = &m
	}
	if r.Pids != nil && *r.Pids != 0 {
		p := *r.Pids
		if p < 0 {
			p = 0
		}
		l.Pids = &p
	}
	return l
}

// specLimits are sentryLimits of config.json's linux.resources, for the
// sandbox's start.
func specLimits(spec *specs.Spec) *control.Limits {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return nil
	}
	return sentryLimits(cgroup.FromSpec(spec.Linux.Resources))
}
