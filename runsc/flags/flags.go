// Package flags holds runsc's global flags, shared by every subcommand and
// passed on to the sandbox process.
package flags

import (
	"flag"
	"fmt"

	"golang.org/x/sys/unix"
)

// Global are the flags that come before the subcommand.
type Global struct {
	Root     string
	Debug    bool
	DebugLog string
	Strace   bool
	Platform string

	// SystrapSpin is systrap's Options.Spin: 0 adaptive, -1 never, N>0
	// always N ns.
	SystrapSpin int

	Network string
	Log     string
	LogFmt  string
	// Overlay is "root" (the default: the container's root is an overlay
	// with a writable layer in sentry memory; the image never changes)
	// or "none" (writes go to the image itself when config.json's root is
	// not read-only; `runsc do` keeps the host root read-only).
	Overlay string
	// SystemdCgroup is accepted for runc compatibility (no cgroups yet).
	SystemdCgroup bool
}

// Register defines the global flags on fs.
func Register(fs *flag.FlagSet) *Global {
	g := &Global{}
	fs.StringVar(&g.Root, "root", "/var/run/runsc", "directory for container state")
	fs.BoolVar(&g.Debug, "debug", false, "log sentry diagnostics")
	fs.StringVar(&g.DebugLog, "debug-log", "", "directory to write debug logs to (implies --debug)")
	fs.BoolVar(&g.Strace, "strace", false, "print every application syscall with its arguments, result and duration")
	fs.StringVar(&g.Platform, "platform", "systrap", "platform that runs application code: systrap (the default) or ptrace")
	fs.IntVar(&g.SystrapSpin, "systrap-spin", 0, "systrap: how a hand-off waits: 0 spins adaptively (only while it pays), -1 never spins, N>0 always spins N ns before sleeping")
	fs.StringVar(&g.Network, "network", "none", "network mode: none (a loopback inside the sandbox) or host (the host's network through sentry-owned host sockets)")
	fs.StringVar(&g.Log, "log", "", "file for runtime log messages")
	fs.StringVar(&g.LogFmt, "log-format", "text", "log format: text or json (runc's log lines)")
	fs.StringVar(&g.Overlay, "overlay", "root", "root filesystem overlay: root (writes stay in sandbox memory) or none")
	fs.BoolVar(&g.SystemdCgroup, "systemd-cgroup", false, "place the container in a systemd-style cgroup path (slice:prefix:name)")
	return g
}

// Validate checks flag values.
func (g *Global) Validate() error {
	if g.Platform != "ptrace" && g.Platform != "systrap" {
		return fmt.Errorf("unsupported platform %q (available: ptrace, systrap)", g.Platform)
	}
	if g.SystrapSpin < -1 {
		return fmt.Errorf("--systrap-spin must be -1, 0 or a positive number of nanoseconds")
	}
	if g.LogFmt != "text" && g.LogFmt != "json" {
		return fmt.Errorf("unknown log format %q (available: text, json)", g.LogFmt)
	}
	if g.Overlay != "root" && g.Overlay != "none" {
		return fmt.Errorf("unknown overlay mode %q (available: root, none)", g.Overlay)
	}
	if g.Network != "none" && g.Network != "host" {
		return fmt.Errorf("unsupported network mode %q (available: none, host)", g.Network)
	}
	return nil
}

// NetNamespace is the clone flag that gives the sandbox process its own
// network namespace: none with --network=host, whose sockets are the
// host's.
func (g *Global) NetNamespace() uintptr {
	if g.Network == "host" {
		return 0
	}
	return unix.CLONE_NEWNET
}

// Args returns the global flags as command-line arguments, to pass them to
// a child runsc process.
func (g *Global) Args() []string {
	a := []string{"--platform=" + g.Platform, "--network=" + g.Network, "--root=" + g.Root, "--log-format=" + g.LogFmt, "--overlay=" + g.Overlay}
	if g.SystrapSpin != 0 {
		a = append(a, fmt.Sprintf("--systrap-spin=%d", g.SystrapSpin))
	}
	if g.Log != "" {
		a = append(a, "--log="+g.Log)
	}
	if g.Debug {
		a = append(a, "--debug")
	}
	if g.DebugLog != "" {
		a = append(a, "--debug-log="+g.DebugLog)
	}
	if g.Strace {
		a = append(a, "--strace")
	}
	return a
}
