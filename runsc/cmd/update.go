package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/runsc/cgroup"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// Update implements `runsc update`: new resource limits for a container,
// in its host cgroup and in the sentry's own accounting, with runc's
// syntax (a linux.resources JSON file, or one flag per limit).
type Update struct {
	Global    *flags.Global
	resources string
	// The per-resource flags, as given ("" when not given).
	memory, memorySwap, memoryReservation        string
	cpuShares, cpuQuota, cpuPeriod, pidsLimit    string
	cpusetCpus, cpusetMems                       string
	blkioWeight, cpuRtPeriod, cpuRtRuntime, kmem string
	kmemTCP, l3Cache, memBw                      string
}

// Name implements subcommands.Command.
func (*Update) Name() string { return "update" }

// Synopsis implements subcommands.Command.
func (*Update) Synopsis() string { return "update a container's resource limits" }

// Usage implements subcommands.Command.
func (*Update) Usage() string {
	return `update [flags] <container-id>

The limits come from --resources (a linux.resources JSON file, "-" for
standard input):

  {"memory": {"limit": 0, "reservation": 0, "swap": 0},
   "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
   "pids": {"limit": 0}}

or, without --resources, from the flags below (memory sizes take k, m, g
suffixes; 0 leaves a limit as it is, -1 makes it unlimited). The sentry enforces the memory limit on the application's
memory (a little below the host cgroup's, for its own needs) and the pids
limit on its tasks; the host cgroup gets the rest.
`
}

// SetFlags implements subcommands.Command.
func (c *Update) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.resources, "resources", "", `path to the file containing the resources to update or "-" to read from the standard input`)
	f.StringVar(&c.resources, "r", "", "short for --resources")
	f.StringVar(&c.memory, "memory", "", "memory limit (in bytes)")
	f.StringVar(&c.memoryReservation, "memory-reservation", "", "memory reservation or soft_limit (in bytes)")
	f.StringVar(&c.memorySwap, "memory-swap", "", "total memory usage (memory + swap); set '-1' to enable unlimited swap")
	f.StringVar(&c.cpuShares, "cpu-share", "", "CPU shares (relative weight vs. other containers)")
	f.StringVar(&c.cpuShares, "cpu-shares", "", "same as --cpu-share")
	f.StringVar(&c.cpuQuota, "cpu-quota", "", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period")
	f.StringVar(&c.cpuPeriod, "cpu-period", "", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default")
	f.StringVar(&c.cpusetCpus, "cpuset-cpus", "", "CPU(s) to use")
	f.StringVar(&c.cpusetMems, "cpuset-mems", "", "memory node(s) to use")
	f.StringVar(&c.pidsLimit, "pids-limit", "", "maximum number of pids allowed in the container")
	f.StringVar(&c.blkioWeight, "blkio-weight", "", "accepted for runc compatibility; not supported")
	f.StringVar(&c.cpuRtPeriod, "cpu-rt-period", "", "accepted for runc compatibility; not supported")
	f.StringVar(&c.cpuRtRuntime, "cpu-rt-runtime", "", "accepted for runc compatibility; not supported")
	f.StringVar(&c.kmem, "kernel-memory", "", "obsolete; ignored")
	f.StringVar(&c.kmemTCP, "kernel-memory-tcp", "", "obsolete; ignored")
	f.StringVar(&c.l3Cache, "l3-cache-schema", "", "accepted for runc compatibility; not supported")
	f.StringVar(&c.memBw, "mem-bw-schema", "", "accepted for runc compatibility; not supported")
}

// Execute implements subcommands.Command.
func (c *Update) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err == nil {
		err = c.update(g, id)
	}
	if err != nil {
		return fail(g, err)
	}
	return subcommands.ExitSuccess
}

func (c *Update) update(g *flags.Global, id string) error {
	r, err := c.parse(os.Stdin)
	if err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	st, err := load(g, id)
	if err != nil {
		return err
	}
	if st.Status == container.Stopped {
		return fmt.Errorf("cannot update a stopped container %s", id)
	}
	if st.Pod != nil {
		if err := podUpdatable(id, r); err != nil {
			return err
		}
	}
	s := store(g)
	unlock, err := s.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	cg, err := cgroup.Load(s.Dir(id))
	if err != nil {
		return err
	}
	if cg != nil {
		if err := cg.Apply(r); err != nil {
			return err
		}
		if err := cg.Save(s.Dir(id)); err != nil {
			return err
		}
	}
	l := sentryLimits(r)
	if l.MemoryBytes == nil && l.Pids == nil {
		return nil
	}
	return whileThawed(g, id, st.Status == container.Paused, true, func() error {
		_, err := control.Call(s.ControlPath(id), control.Request{Cmd: control.CmdUpdate, Limits: l}, 10*time.Second)
		if errors.Is(err, control.ErrUnreachable) {
			return errors.New("container not running")
		}
		return err
	})
}

// podUpdatable checks that resources r can be applied to pod member id
// (pod.go): its pids limit can; memory and CPU limits cannot, as its
// processes run in the sandbox process, whose memory and CPU are the
// sandbox container's (its own cgroup holds only its gofer). Nothing is
// changed when one is asked for.
func podUpdatable(id string, r *cgroup.Resources) error {
	var refused []string
	for _, m := range []struct {
		name string
		set  bool
	}{
		{"memory", r.Memory != nil && *r.Memory != 0},
		{"memory reservation", r.MemoryReservation != nil && *r.MemoryReservation != 0},
		{"memory+swap", r.MemorySwap != nil && *r.MemorySwap != 0},
		{"cpu shares", r.CPUShares != nil && *r.CPUShares != 0},
		{"cpu quota", r.CPUQuota != nil && *r.CPUQuota != 0},
		{"cpu period", r.CPUPeriod != nil && *r.CPUPeriod != 0},
		{"cpuset cpus", r.CpusetCpus != ""},
		{"cpuset mems", r.CpusetMems != ""},
	} {
		if m.set {
			refused = append(refused, m.name)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("container %s is part of a pod: its processes run in the sandbox of its sandbox container, whose memory and CPU limits are theirs; update the sandbox container (%s cannot be set for one container of a pod; its pids limit can)",
		id, strings.Join(refused, ", "))
}

// parse returns the resources that --resources or the flags give.
func (c *Update) parse(stdin io.Reader) (*cgroup.Resources, error) {
	r := &cgroup.Resources{}
	if c.resources != "" {
		var in io.Reader = stdin
		if c.resources != "-" {
			f, err := os.Open(c.resources)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			in = f
		}
		var lr specs.LinuxResources
		if err := json.NewDecoder(in).Decode(&lr); err != nil {
			return nil, fmt.Errorf("decoding resources: %w", err)
		}
		// As runc: the other flags are ignored then.
		return cgroup.FromSpec(&lr), nil
	}
	for _, m := range []struct {
		flag, val string
		dst       **int64
	}{
		{"memory", c.memory, &r.Memory},
		{"memory-reservation", c.memoryReservation, &r.MemoryReservation},
		{"memory-swap", c.memorySwap, &r.MemorySwap},
	} {
		if m.val == "" {
			continue
		}
		v, err := parseBytes(m.val)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %s: %w", m.flag, err)
		}
		*m.dst = &v
	}
	if c.cpuShares != "" {
		v, err := strconv.ParseUint(c.cpuShares, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for cpu-share: %w", err)
		}
		r.CPUShares = &v
	}
	if c.cpuPeriod != "" {
		v, err := strconv.ParseUint(c.cpuPeriod, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for cpu-period: %w", err)
		}
		r.CPUPeriod = &v
	}
	for _, m := range []struct {
		flag, val string
		dst       **int64
	}{{"cpu-quota", c.cpuQuota, &r.CPUQuota}, {"pids-limit", c.pidsLimit, &r.Pids}} {
		if m.val == "" {
			continue
		}
		v, err := strconv.ParseInt(m.val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %s: %w", m.flag, err)
		}
		*m.dst = &v
	}
	if c.cpusetCpus != "" {
		r.CpusetCpus = c.cpusetCpus
	}
	if c.cpusetMems != "" {
		r.CpusetMems = c.cpusetMems
	}
	if c.blkioWeight != "" || c.cpuRtPeriod != "" || c.cpuRtRuntime != "" {
		return nil, errors.New("blkio weight and realtime CPU limits are not supported")
	}
	if c.l3Cache != "" || c.memBw != "" {
		return nil, errors.New("intel RDT is not supported")
	}
	if r.Pids != nil && *r.Pids == 0 {
		// runc: 0 leaves the limit as it is.
		r.Pids = nil
	}
	return r, nil
}

// parseBytes parses a size as runc's update does (docker's
// RAMInBytes): a number with an optional binary unit b, k, m, g, t, p
// (kb, kib... too, any case); -1 is unlimited.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		case 'p':
			mult = 1 << 50
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || t == "" {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	return int64(v * float64(mult)), nil
}
