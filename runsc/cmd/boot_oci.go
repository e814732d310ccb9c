package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/runsc/ociseccomp"
)

// executeOCI runs the sandbox of an OCI container: config.json says what
// to run, the control socket in the state directory when.
func (b *Boot) executeOCI() subcommands.ExitStatus {
	ready := os.NewFile(uintptr(b.readyFD), "ready")
	reported := false
	report := func(err error) {
		if reported || ready == nil {
			return
		}
		reported = true
		if err == nil {
			fmt.Fprintln(ready, "ok")
		} else {
			fmt.Fprintln(ready, err.Error())
		}
		ready.Close()
	}
	s := store(b.Global)
	spec, err := container.LoadSpec(b.bundle)
	if err != nil {
		report(err)
		os.Exit(1)
	}
	cfg, err := bootConfig(spec)
	if err != nil {
		report(err)
		os.Exit(1)
	}
	cfg.Root = rootOptions(spec, b.Global)
	cfg.Strace = b.Global.Strace
	cfg.ClockSample = b.sample()
	cfg.Platform = b.Global.Platform
	cfg.Spin = b.Global.SystrapSpin
	cfg.NoPatch = !b.Global.SystrapPatch
	cfg.Debug = b.Global.Debug || b.Global.DebugLog != ""
	cfg.DebugDir = b.Global.DebugLog
	// (bootConfig sets it for a joined network namespace.)
	cfg.HostNetwork = cfg.HostNetwork || b.Global.Network == "host"
	cfg.HostUDS, _ = gofer.ParseHostUDS(b.Global.HostUDS)
	cfg.FileAccess = b.Global.FileAccess
	// The sandbox records its status changes through a descriptor: once
	// fenced it cannot reach the state directory.
	status, err := s.OpenSandboxStatus(b.id)
	if err != nil {
		report(fmt.Errorf("container %s: sandbox status: %w", b.id, err))
		os.Exit(1)
	}
	record := func(st string, code int) {
		if err := container.WriteSandboxStatus(status, st, code); err != nil {
			fmt.Fprintf(os.Stderr, "runsc: recording the container's status: %v\n", err)
		}
	}
	// create starts this process and the gofer outside the container's
	// cgroup, moves them in while they start, and then sends one byte
	// on the ready connection (runsc/cmd: cgroupJoin); end of file means
	// that it gave up. Nothing that must be born in the cgroup or charged
	// to it comes before.
	if ready != nil {
		cfg.CgroupJoined = sync.OnceValue(func() error {
			var b [1]byte
			if _, err := io.ReadFull(ready, b[:]); err != nil {
				return errors.New("the runtime went away before the sandbox joined its cgroup")
			}
			return nil
		})
	}
	cfg.Control = &boot.Control{
		Socket:  s.ControlPath(b.id),
		Ready:   report,
		OnStart: func() { record(container.Running, 0) },
		OnPause: func(paused bool) {
			if paused {
				record(container.Paused, 0)
			} else {
				record(container.Running, 0)
			}
		},
		OnExit: func(code int) { record(container.Stopped, code) },
	}
	b.fence(&cfg)
	code, err := boot.Run(cfg)
	if err != nil {
		report(err)
		if reported {
			fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		}
	}
	report(fmt.Errorf("the sandbox exited with status %d before it was ready", code))
	os.Exit(code)
	return subcommands.ExitSuccess
}

// rootOptions says how the container's root is mounted: straight from
// the gofer, which writes to the image, unless --overlay=root puts it
// under the in-memory overlay; read-only if config.json's root.readonly
// says so, whatever the overlay flag.
func rootOptions(spec *specs.Spec, g *flags.Global) rootfs.RootOptions {
	return rootfs.RootOptions{
		Overlay:  g.RootOverlay(true),
		ReadOnly: spec.Root != nil && spec.Root.Readonly,
	}
}

// bootConfig turns config.json's process and root into the sandbox's
// configuration.
func bootConfig(spec *specs.Spec) (boot.Config, error) {
	p := spec.Process
	c := boot.Config{
		Argv:       p.Args,
		Envv:       p.Env,
		Cwd:        p.Cwd,
		Hostname:   spec.Hostname,
		NoNewPrivs: p.NoNewPrivileges,
		Terminal:   p.Terminal,
		User:       &boot.User{UID: p.User.UID, GID: p.User.GID, Groups: p.User.AdditionalGids},
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if p.User.Umask != nil {
		c.Umask = *p.User.Umask
		if c.Umask == 0 {
			// boot.Config's zero means the default; an explicit 0
			// is kept through the sign bit.
			c.Umask = boot.UmaskZero
		}
	}
	if len(p.Rlimits) > 0 {
		c.Rlimits = map[int]unix.Rlimit{}
		for _, r := range p.Rlimits {
			n, _ := container.RlimitNumber(r.Type)
			c.Rlimits[n] = unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	mounts, err := boot.ParseMounts(spec)
	if err != nil {
		return c, err
	}
	c.OCIMounts = mounts
	if pc := p.Capabilities; pc != nil {
		var caps boot.Caps
		var err error
		for _, x := range []struct {
			dst   *uint64
			names []string
		}{{&caps.Bounding, pc.Bounding}, {&caps.Effective, pc.Effective}, {&caps.Permitted, pc.Permitted},
			{&caps.Inheritable, pc.Inheritable}, {&caps.Ambient, pc.Ambient}} {
			if *x.dst, err = container.CapabilityMask(x.names); err != nil {
				return c, err
			}
		}
		c.Caps = &caps
	}
	c.Limits = specLimits(spec)
	if err := ociConfig(spec, &c); err != nil {
		return c, err
	}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		if c.AppSeccomp, err = ociseccomp.Compile(spec.Linux.Seccomp); err != nil {
			return c, err
		}
	}
	return c, nil
}
