package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/google/subcommands"

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

// runc's event and stats shapes (the fields we have figures for).
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

type statsData struct {
	CPU struct {
		Usage struct {
			Total  uint64 `json:"total"`
			User   uint64 `json:"user"`
			Kernel uint64 `json:"kernel"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Usage uint64 `json:"usage"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
	} `json:"pids"`
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
		resp, err := control.Call(store(g).ControlPath(id), control.Request{Cmd: control.CmdStats}, 10*time.Second)
		if err != nil || resp.Stats == nil {
			if c.stats {
				return fail(g, fmt.Errorf("container not running"))
			}
			return subcommands.ExitSuccess
		}
		var d statsData
		s := resp.Stats
		d.CPU.Usage.User, d.CPU.Usage.Kernel = s.CPUUser, s.CPUKernel
		d.CPU.Usage.Total = s.CPUUser + s.CPUKernel
		d.Memory.Usage.Usage = s.MemoryUsage
		d.Pids.Current = uint64(s.Pids)
		b, _ := json.Marshal(event{Type: "stats", ID: id, Data: d})
		fmt.Println(string(b))
		if c.stats {
			return subcommands.ExitSuccess
		}
		time.Sleep(c.interval)
	}
}
