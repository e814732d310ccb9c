// Package flags holds runsc's global flags, shared by every subcommand and
// passed on to the sandbox process.
package flags

import (
	"flag"
	"fmt"
)

// Global are the flags that come before the subcommand.
type Global struct {
	Root     string
	Debug    bool
	DebugLog string
	Strace   bool
	Platform string
	Network  string
	Log      string
	LogFmt   string
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
	fs.StringVar(&g.Platform, "platform", "ptrace", "platform that runs application code: ptrace")
	fs.StringVar(&g.Network, "network", "none", "network mode: none")
	fs.StringVar(&g.Log, "log", "", "file for runtime log messages")
	fs.StringVar(&g.LogFmt, "log-format", "text", "log format: text or json (runc's log lines)")
	fs.BoolVar(&g.SystemdCgroup, "systemd-cgroup", false, "accepted for runc compatibility; ignored")
	return g
}

// Validate checks flag values.
func (g *Global) Validate() error {
	if g.Platform != "ptrace" {
		return fmt.Errorf("unsupported platform %q (available: ptrace)", g.Platform)
	}
	if g.LogFmt != "text" && g.LogFmt != "json" {
		return fmt.Errorf("unknown log format %q (available: text, json)", g.LogFmt)
	}
	if g.Network != "none" {
		return fmt.Errorf("unsupported network mode %q (available: none)", g.Network)
	}
	return nil
}

// Args returns the global flags as command-line arguments, to pass them to
// a child runsc process.
func (g *Global) Args() []string {
	a := []string{"--platform=" + g.Platform, "--network=" + g.Network, "--root=" + g.Root, "--log-format=" + g.LogFmt}
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
