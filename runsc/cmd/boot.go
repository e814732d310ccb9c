package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
)

// Boot implements the internal `runsc boot` command: the sandbox process,
// in which the sentry runs. It is started by `do` (and later `create`) in
// fresh namespaces and exits with the status of the container's init.
type Boot struct {
	Global   *flags.Global
	cwd      string
	hostname string
	// tmpOnRoot: no tmpfs on /tmp (runsc do --tmp-on-root).
	tmpOnRoot bool
	// volumes are runsc do's --volume values (do.go).
	volumes volumeList
	// OCI mode (create/run): the container's bundle and id, and the
	// descriptor on which to say "ok" once the sandbox waits for start.
	bundle  string
	id      string
	readyFD int
	// clockSample is the starter's vdso.Sample (--clock-sample).
	clockSample string
}

// sample returns the starter's clock sample, or nil if it gave none or
// one that does not parse (the vDSO then calibrates from scratch).
func (b *Boot) sample() *vdso.Sample {
	if b.clockSample == "" {
		return nil
	}
	s, err := vdso.ParseSample(b.clockSample)
	if err != nil {
		return nil
	}
	return &s
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
	f.BoolVar(&b.tmpOnRoot, "tmp-on-root", false, "mount no tmpfs on /tmp (runsc do --tmp-on-root)")
	f.Var(&b.volumes, "volume", "HOSTDIR:DIR bind served on descriptor boot.FirstBindFD+i (runsc do --volume)")
	f.StringVar(&b.bundle, "bundle", "", "OCI bundle of the container (create/run)")
	f.StringVar(&b.id, "id", "", "container id (create/run)")
	f.IntVar(&b.readyFD, "ready-fd", -1, "descriptor to report readiness on (create/run)")
	f.StringVar(&b.clockSample, "clock-sample", "", "TSC and CLOCK_MONOTONIC as the starter read them (vdso.Sample), for the vDSO's calibration")
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
		ClockSample: b.sample(),
		Argv:        f.Args(),
		Envv:        environ(),
		Cwd:         b.cwd,
		Hostname:    b.hostname,
		Strace:      b.Global.Strace,
		Platform:    b.Global.Platform,
		Spin:        b.Global.SystrapSpin,
		NoPatch:     !b.Global.SystrapPatch,
		Debug:       b.Global.Debug || b.Global.DebugLog != "",
		DebugDir:    b.Global.DebugLog,
		// The host root is never written: under the overlay, writes
		// stay in sandbox memory; without it, the root is read-only.
		Root: rootfs.RootOptions{Overlay: b.Global.RootOverlay(false), ReadOnly: !b.Global.RootOverlay(false), TmpOnRoot: b.tmpOnRoot},
		// The network mode comes with the global flags.
		HostNetwork: b.Global.Network == "host",
		FileAccess:  b.Global.FileAccess,
	}
	// Validated by the global flags already.
	cfg.HostUDS, _ = gofer.ParseHostUDS(b.Global.HostUDS)
	if len(b.volumes) > 0 {
		mounts, _ := volumeMounts(b.volumes)
		om, err := boot.ParseMounts(&specs.Spec{Mounts: mounts})
		if err != nil {
			fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
			return subcommands.ExitUsageError
		}
		cfg.OCIMounts = om
	}
	b.fence(&cfg)
	code, err := boot.Run(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
	}
	os.Exit(code)
	return subcommands.ExitSuccess
}

// seccompLogEnv, set to 1 in runsc's environment, makes the sentry's
// seccomp filter log the syscalls it would refuse (to the kernel's audit
// log: dmesg) instead of killing the sandbox: for collecting the
// allow-list (runsc/fence/README.md), never for production.
const seccompLogEnv = "RAMPART_SECCOMP_LOG"

// fence asks boot.Run to fence the sandbox process: runsc boot is always
// started as the init of fresh mount and pid namespaces (do, create).
// With --debug a refused syscall raises SIGSYS, and the Go runtime
// prints the stack that made it before the sandbox dies.
func (b *Boot) fence(cfg *boot.Config) {
	cfg.Fence = true
	cfg.Seccomp.Debug = cfg.Debug
	cfg.Seccomp.LogOnly = os.Getenv(seccompLogEnv) == "1"
	cfg.Seccomp.HostNetwork = cfg.HostNetwork
	cfg.Seccomp.HostUDS = cfg.HostUDS&gofer.HostUDSCreate != 0
}

// environ is the caller's environment for `runsc do`'s command, less
// runsc's own knobs.
func environ() []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, seccompLogEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}
