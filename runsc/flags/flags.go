// Package flags holds runsc's global flags, shared by every subcommand and
// passed on to the sandbox process.
//
// --host-uds (none, open, create, all; default none) decides whether the
// sandbox may use host unix sockets on gofer-served trees (bind mounts,
// and the root with --overlay=none): "open" lets a connect(2) inside
// reach a socket file that a host process listens on, "create" makes a
// bind(2) inside create a real host socket that host processes can
// connect to, "all" is both. The default is none because each is a
// channel across the sandbox boundary that no file permission governs as
// the administrator may expect: a bind-mounted directory that happens to
// hold /var/run/docker.sock, a D-Bus or an X11 socket would otherwise give
// the untrusted application that host service (often root-equivalent),
// and a sandbox socket in a host directory is a service the host did not
// ask for. With none, connect to a host-made socket file is ECONNREFUSED
// and bind makes a socket file whose endpoint lives only in the sentry,
// exactly as without the flag; the gofer refuses both requests (EPERM)
// and its seccomp filter has no socket(2) at all.
package flags

import (
	"flag"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/gofer"
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
	// SystrapPatch is systrap's Options.Patch (syscall patching).
	SystrapPatch bool

	Network string
	Log     string
	LogFmt  string
	// Overlay is "root" (the root is an overlay with a writable layer in
	// sentry memory; the image never changes), "none" (an OCI container
	// writes to its root.path unless config.json makes it read-only;
	// `runsc do` keeps the host root read-only) or "" (unset: each
	// command's default, RootOverlay).
	Overlay string
	// FileAccess is how the sentry caches the root filesystem served by
	// the gofer: "exclusive" (the default: the sandbox is its only
	// writer, everything is cached) or "shared" (the host may change it
	// too: names and attributes are revalidated). Bind mounts are always
	// shared (gVisor's --file-access-mounts default).
	FileAccess string
	// SystemdCgroup is accepted for runc compatibility (no cgroups yet).
	SystemdCgroup bool
	// HostUDS is --host-uds: none, open, create or all (package doc).
	HostUDS string
}

// Register defines the global flags on fs.
func Register(fs *flag.FlagSet) *Global {
	g := &Global{}
	fs.StringVar(&g.Root, "root", "/var/run/runsc", "directory for container state")
	fs.BoolVar(&g.Debug, "debug", false, "log sentry diagnostics")
	fs.StringVar(&g.DebugLog, "debug-log", "", "directory to write debug logs to (implies --debug)")
	fs.BoolVar(&g.Strace, "strace", false, "print every application syscall with its arguments, result and duration")
	fs.StringVar(&g.Platform, "platform", "systrap", "platform that runs application code: systrap (the default) or ptrace")
	fs.BoolVar(&g.SystrapPatch, "systrap-patch", true, "systrap: rewrite trapping \"mov $NR, %eax; syscall\" sites into jumps to a trampoline that enters the sentry without a signal")
	fs.IntVar(&g.SystrapSpin, "systrap-spin", 0, "systrap: how a hand-off waits: 0 spins adaptively (only while it pays), -1 never spins, N>0 always spins N ns before sleeping")
	fs.StringVar(&g.Network, "network", "none", "network mode: none (a loopback inside the sandbox) or host (the host's network through sentry-owned host sockets)")
	fs.StringVar(&g.Log, "log", "", "file for runtime log messages")
	fs.StringVar(&g.LogFmt, "log-format", "text", "log format: text or json (runc's log lines)")
	fs.StringVar(&g.Overlay, "overlay", "", "root filesystem overlay: root (writes stay in sandbox memory) or none (OCI containers write to their root.path, as under runc); default: none for OCI containers, root for do")
	fs.StringVar(&g.FileAccess, "file-access", "exclusive", "caching of the root filesystem: exclusive (the sandbox is its only writer) or shared (the host may change it too)")
	fs.BoolVar(&g.SystemdCgroup, "systemd-cgroup", false, "place the container in a systemd-style cgroup path (slice:prefix:name)")
	fs.StringVar(&g.HostUDS, "host-uds", "none", "host unix sockets on gofer-served mounts: none, open (connect to host sockets), create (bind makes host sockets) or all")
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
	if g.Overlay != "" && g.Overlay != "root" && g.Overlay != "none" {
		return fmt.Errorf("unknown overlay mode %q (available: root, none)", g.Overlay)
	}
	if _, err := gofer.ParseHostUDS(g.HostUDS); err != nil {
		return fmt.Errorf("unknown --host-uds mode %q (available: none, open, create, all)", g.HostUDS)
	}
	if g.FileAccess != "exclusive" && g.FileAccess != "shared" {
		return fmt.Errorf("unknown file access mode %q (available: exclusive, shared)", g.FileAccess)
	}
	if g.Network != "none" && g.Network != "host" {
		return fmt.Errorf("unsupported network mode %q (available: none, host)", g.Network)
	}
	return nil
}

// RootOverlay says whether the root is mounted under the in-memory
// overlay. Unset, it is for `runsc do`, whose root is the host's and must
// never be written, and not for OCI containers (oci): their writes go to
// root.path as under runc, where the client expects them. Docker keeps a
// container's root across `docker restart` and reads it for `docker cp`,
// `diff`, `commit` and its size; in sandbox memory those writes would be
// lost at every restart and charged to the container's memory limit.
func (g *Global) RootOverlay(oci bool) bool {
	if g.Overlay == "" {
		return !oci
	}
	return g.Overlay == "root"
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
	a := []string{"--platform=" + g.Platform, "--network=" + g.Network, "--root=" + g.Root, "--log-format=" + g.LogFmt}
	if g.Overlay != "" {
		a = append(a, "--overlay="+g.Overlay)
	}
	if g.HostUDS != "" && g.HostUDS != "none" {
		a = append(a, "--host-uds="+g.HostUDS)
	}
	if g.FileAccess != "" && g.FileAccess != "exclusive" {
		a = append(a, "--file-access="+g.FileAccess)
	}
	if g.SystrapSpin != 0 {
		a = append(a, fmt.Sprintf("--systrap-spin=%d", g.SystrapSpin))
	}
	if !g.SystrapPatch {
		a = append(a, "--systrap-patch=false")
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
