package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/google/subcommands"

	"github.com/rampart-sandbox/rampart/runsc/cgroup"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// Events implements `runsc events`: runc's stats events, with the figures
// of the sentry's own accounting.
type Events struct {
	Global   *flags.Global
	stats    bool
	interval time.Duration
}

// Name implements subcommands.Command.
func (*Events) Name() string { return "events" }

// Synopsis implements subcommands.Command.
func (*Events) Synopsis() string { return "print a container's resource figures" }

// Usage implements subcommands.Command.
func (*Events) Usage() string {
	return "events [--stats] [--interval D] <container-id>\n\nPrints a stats event (JSON line) every interval until the container stops, or\nonce with --stats.\n"
}

// SetFlags implements subcommands.Command.
func (c *Events) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&c.stats, "stats", false, "print the figures once")
	f.DurationVar(&c.interval, "interval", 5*time.Second, "time between stats events")
}

// runc's event and stats shapes (libcontainer's types.Event and
// types.Stats, the fields Rampart has figures for).
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

type statsData struct {
	CPU struct {
		Usage struct {
			Total  uint64   `json:"total,omitempty"`
			Percpu []uint64 `json:"percpu,omitempty"`
			Kernel uint64   `json:"kernel"`
			User   uint64   `json:"user"`
		} `json:"usage,omitempty"`
		Throttling struct {
			Periods          uint64 `json:"periods,omitempty"`
			ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
			ThrottledTime    uint64 `json:"throttledTime,omitempty"`
		} `json:"throttling,omitempty"`
	} `json:"cpu"`
	Memory struct {
		Usage memoryEntry       `json:"usage,omitempty"`
		Raw   map[string]uint64 `json:"raw,omitempty"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current,omitempty"`
		Limit   uint64 `json:"limit,omitempty"`
	} `json:"pids"`
}

type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// stats fills runc's figures: the application's, from the sentry's
// accounting (CPU time of its tasks, memory file usage, live tasks, the
// limits it enforces), completed with the host cgroup's (per-CPU time,
// throttling, the sandbox's whole memory charge and peak under "raw",
// as sandbox_* keys, beside the cgroup's memory.stat).
func stats(s *control.Stats, cg *cgroup.Stats) statsData {
	var d statsData
	d.CPU.Usage.User, d.CPU.Usage.Kernel = s.CPUUser, s.CPUKernel
	d.CPU.Usage.Total = s.CPUUser + s.CPUKernel
	d.Memory.Usage.Usage = s.MemoryUsage
	d.Memory.Usage.Limit = s.MemoryLimit
	d.Pids.Current = uint64(s.Pids)
	if s.PidsLimit > 0 {
		d.Pids.Limit = uint64(s.PidsLimit)
	}
	if cg == nil {
		return d
	}
	d.CPU.Usage.Percpu = cg.PerCPU
	d.CPU.Throttling.Periods, d.CPU.Throttling.ThrottledPeriods, d.CPU.Throttling.ThrottledTime =
		cg.ThrottlePeriods, cg.ThrottledPeriods, cg.ThrottledTime
	d.Memory.Usage.Max, d.Memory.Usage.Failcnt = cg.MemoryMax, cg.MemoryFailcnt
	if d.Memory.Usage.Limit == 0 && cg.MemoryLimit < 1<<62 {
		d.Memory.Usage.Limit = cg.MemoryLimit
	}
	d.Memory.Raw = map[string]uint64{}
	for k, v := range cg.MemoryStat {
		d.Memory.Raw[k] = v
	}
	d.Memory.Raw["sandbox_usage"] = cg.MemoryUsage
	d.Memory.Raw["sandbox_max_usage"] = cg.MemoryMax
	d.Memory.Raw["sandbox_limit"] = cg.MemoryLimit
	return d
}

// Execute implements subcommands.Command.
func (c *Events) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err != nil {
		return fail(g, err)
	}
	if c.interval <= 0 {
		return fail(g, fmt.Errorf("duration interval must be greater than 0"))
	}
	for {
		st, err := load(g, id)
		if err != nil {
			return fail(g, err)
		}
		if st.Status == container.Stopped {
			if c.stats {
				return fail(g, fmt.Errorf("container not running"))
			}
			return subcommands.ExitSuccess
		}
		var resp control.Response
		err = whileThawed(g, id, st.Status == container.Paused, true, func() error {
			var err error
			resp, err = control.Call(store(g).ControlPath(id), control.Request{Cmd: control.CmdStats}, 10*time.Second)
			return err
		})
		if err != nil || resp.Stats == nil {
			if c.stats {
				return fail(g, fmt.Errorf("container not running"))
			}
			return subcommands.ExitSuccess
		}
		var cgs *cgroup.Stats
		if cg, _ := cgroup.Load(store(g).Dir(id)); cg != nil {
			cgs = cg.Stats()
		}
		b, _ := json.Marshal(event{Type: "stats", ID: id, Data: stats(resp.Stats, cgs)})
		fmt.Println(string(b))
		if c.stats {
			return subcommands.ExitSuccess
		}
		time.Sleep(c.interval)
	}
}
