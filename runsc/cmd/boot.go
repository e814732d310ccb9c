package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"

	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/flags"
)

// Boot implements the internal `runsc boot` command: the sandbox process,
// in which the sentry runs. It is started by `do` (and later `create`) in
// fresh namespaces and exits with the status of the container's init.
type Boot struct {
	Global   *flags.Global
	cwd      string
	hostname string
	// OCI mode (create/run): the container's bundle and id, and the
	// descriptor on which to say "ok" once the sandbox waits for start.
	bundle  string
	id      string
	readyFD int
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string { return "start the sandbox (internal)" }

// Usage implements subcommands.Command.
func (*Boot) Usage() string { return "boot [flags] -- CMD [ARG...]\n" }

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.StringVar(&b.cwd, "cwd", "/", "working directory of the first process")
	f.StringVar(&b.hostname, "hostname", "rampart", "hostname of the sandbox")
	f.StringVar(&b.bundle, "bundle", "", "OCI bundle of the container (create/run)")
	f.StringVar(&b.id, "id", "", "container id (create/run)")
	f.IntVar(&b.readyFD, "ready-fd", -1, "descriptor to report readiness on (create/run)")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if b.bundle != "" {
		return b.executeOCI()
	}
	if f.NArg() == 0 {
		fmt.Fprint(os.Stderr, b.Usage())
		return subcommands.ExitUsageError
	}
	cfg := boot.Config{
		Argv:     f.Args(),
		Envv:     os.Environ(),
		Cwd:      b.cwd,
		Hostname: b.hostname,
		Strace:   b.Global.Strace,
		Debug:    b.Global.Debug || b.Global.DebugLog != "",
		DebugDir: b.Global.DebugLog,
		// The network mode comes with the global flags.
		HostNetwork: b.Global.Network == "host",
	}
	code, err := boot.Run(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
	}
	os.Exit(code)
	return subcommands.ExitSuccess
}
