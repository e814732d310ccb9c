package cmd

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/runsc/cgroup"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// The CLI's side of the container's cgroup (runsc/cgroup): made by create,
// joined by the gofer and the sandbox while they start (cgroupJoin),
// frozen by pause, changed by update, read by events and removed by
// delete. Its directories are saved in the container's state directory.

// setupCgroup creates id's cgroup with spec's linux.resources. A host
// where no cgroup can be made fails create only if the container asks
// for limits or for a cgroup path.
func setupCgroup(g *flags.Global, id string, spec *specs.Spec) error {
	_, err := cgroup.Setup(store(g).Dir(id), g.Root, id, spec.Linux, g.SystemdCgroup)
	if err != nil {
		if spec.Linux == nil || (spec.Linux.Resources == nil && spec.Linux.CgroupsPath == "") {
			logLine(g, "warning", fmt.Sprintf("container %q runs without a cgroup: %v", id, err))
			return nil
		}
		return err
	}
	return nil
}

// cgroupJoin moves the processes of a container that is being created
// into its cgroup while they start, as runc does with its init: they are
// started outside it, and each pid is written to the cgroup's
// cgroup.procs files at once, in the background (runsc/cgroup: Join).
// The first of those writes waits for an RCU grace period, 7-13 ms here,
// which used to sit on create's critical path when this process joined
// the cgroup itself before starting them (issue 6). Whatever must be born
// in the cgroup or charged to it waits for wait to return: the sandbox
// creates its platform's stubs and the application, and sends its first
// request to the gofer, only on the go-ahead create gives it then
// (boot.Config.CgroupJoined); the gofer serves nothing before that
// request, and forks nothing.
//
// What the two processes allocate before they are moved stays charged to
// the caller's cgroup (a v1 or v2 memory cgroup charges a page to the
// cgroup of the task that allocates it, and runsc, like runc, does not
// ask v1 to move charges): their Go runtimes' first heap and stacks,
// with --debug ("moved ... RssAnon", read just after the move, so an
// upper bound) 0.9-1.0 MB for the gofer and 1.3-1.6 MB for the sandbox,
// against 3.6 MB charged to the container's cgroup once a created
// container idles. It does not matter: it is a fixed cost of about
// 2.5 MB per container that the application cannot grow, and all that
// it can grow (the memory file's pages, the stubs, the gofer's work for
// it) is allocated after the move. (The page cache of the runsc binary
// is charged to whoever read it first, as for any runtime.)
type cgroupJoin struct {
	g  *flags.Global
	cg *cgroup.Cgroup // nil: the container has no cgroup
	wg sync.WaitGroup
	// pids are the processes moved, in the order given.
	pids []int
	// took are the moves' durations, by pid (for --debug). It is
	// protected by mu.
	took map[int]time.Duration

	mu sync.Mutex
	// err is the first failure. It is protected by mu.
	err error
	// reported is set once --debug has shown the moves. It is
	// protected by mu.
	reported bool
}

// newCgroupJoin prepares moves into id's cgroup (none if it has none).
func newCgroupJoin(g *flags.Global, id string) (*cgroupJoin, error) {
	cg, err := cgroup.Load(store(g).Dir(id))
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	return &cgroupJoin{g: g, cg: cg, took: map[int]time.Duration{}}, nil
}

// joinFault, set only at link time by a test (-ldflags -X
// .../runsc/cmd.joinFault=gofer or sandbox), makes the move of that
// process fail once it is done, as a failed cgroup.procs write would
// (TestCreateJoinFailure): a production build has it empty.
var joinFault string

// move starts moving pid (all its threads), the container's process
// what ("gofer", "sandbox"), into the cgroup.
func (j *cgroupJoin) move(what string, pid int) {
	if j.cg == nil {
		return
	}
	j.pids = append(j.pids, pid)
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		began := time.Now()
		err := j.cg.Join(pid)
		j.mu.Lock()
		j.took[pid] = time.Since(began)
		j.mu.Unlock()
		if err == nil && what == joinFault {
			err = errors.New("injected failure")
		}
		if err != nil {
			j.mu.Lock()
			if j.err == nil {
				j.err = fmt.Errorf("moving the %s (pid %d) into the container's cgroup: %w", what, pid, err)
			}
			j.mu.Unlock()
		}
	}()
}

// wait waits for the moves started and returns the first failure.
func (j *cgroupJoin) wait() error {
	j.wg.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil && j.g.Debug && !j.reported {
		j.reported = true
		// What stays charged to the caller's cgroup (see above), an
		// upper bound: read just after the move.
		for _, pid := range j.pids {
			fmt.Fprintf(os.Stderr, "runsc create: moved %d into the cgroup in %v (%s)\n", pid, j.took[pid].Round(10*time.Microsecond), rssFigures(pid))
		}
	}
	return j.err
}

// rssFigures returns the Rss* lines of /proc/PID/status, for --debug.
func rssFigures(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Rss") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ")
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
