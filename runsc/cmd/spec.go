package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/runsc/ociseccomp"
)

// Spec implements `runsc spec`: write a default config.json into a bundle,
// as `runc spec` does.
type Spec struct {
	Global   *flags.Global
	bundle   string
	rootless bool
}

// Name implements subcommands.Command.
func (*Spec) Name() string { return "spec" }

// Synopsis implements subcommands.Command.
func (*Spec) Synopsis() string { return "write a default config.json" }

// Usage implements subcommands.Command.
func (*Spec) Usage() string {
	return "spec [--bundle DIR]\n\nWrites DIR/config.json (default: the current directory) for a rootfs in DIR/rootfs\nrunning sh; it fails if the file exists.\n"
}

// SetFlags implements subcommands.Command.
func (c *Spec) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.bundle, "bundle", ".", "bundle directory")
	f.StringVar(&c.bundle, "b", ".", "short for --bundle")
	f.BoolVar(&c.rootless, "rootless", false, "accepted for runc compatibility")
}

var defaultCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// DefaultSpec is the configuration `runsc spec` writes.
func DefaultSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true,
			Args:     []string{"sh"},
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: defaultCaps, Effective: defaultCaps, Permitted: defaultCaps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runsc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// Execute implements subcommands.Command.
func (c *Spec) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	path := filepath.Join(c.bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fail(c.Global, errors.New("File config.json exists. Remove it first"))
	}
	b, _ := json.MarshalIndent(DefaultSpec(), "", "\t")
	if err := os.WriteFile(path, append(b, '\n'), 0o666); err != nil {
		return fail(c.Global, err)
	}
	return subcommands.ExitSuccess
}

// Features implements `runsc features`: what this runtime supports, in the
// runtime spec's features JSON.
type Features struct {
	Global *flags.Global
	simple
}

// NewFeatures returns the features command.
func NewFeatures(g *flags.Global) *Features {
	return &Features{g, simple{"features", "print the runtime's features (JSON)", "features\n"}}
}

// Execute implements subcommands.Command.
func (c *Features) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	no, yes := false, true
	feat := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{},
		MountOptions:  []string{"ro", "rw", "nosuid", "nodev", "noexec"},
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Capabilities: capNames(),
			Cgroup:       &features.Cgroup{V1: &no, V2: &no, Systemd: &no},
			Seccomp: &features.Seccomp{Enabled: &yes, Actions: ociseccomp.Actions,
				Operators: ociseccomp.Operators, Archs: ociseccomp.Archs},
			Apparmor: &features.Apparmor{Enabled: &no},
			Selinux:  &features.Selinux{Enabled: &no},
		},
		Annotations: map[string]string{"org.opencontainers.runtime-spec.features.sandbox": "rampart"},
	}
	b, _ := json.MarshalIndent(feat, "", "    ")
	fmt.Println(string(b))
	return subcommands.ExitSuccess
}

func capNames() []string {
	var out []string
	for i := 0; ; i++ {
		name, ok := container.CapabilityName(i)
		if !ok {
			break
		}
		out = append(out, name)
	}
	return out
}
