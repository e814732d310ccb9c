// Command runsc is Rampart's OCI runtime: it runs containers in a sandbox
// whose kernel is the sentry.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/google/subcommands"

	"github.com/rampart-sandbox/rampart/runsc/cmd"
	"github.com/rampart-sandbox/rampart/runsc/flags"
)

func main() {
	g := flags.Register(flag.CommandLine)
	subcommands.Register(subcommands.HelpCommand(), "")
	subcommands.Register(subcommands.FlagsCommand(), "")
	subcommands.Register(&cmd.Install{}, "")
	subcommands.Register(&cmd.Uninstall{}, "")
	subcommands.Register(&cmd.Do{Global: g}, "")
	subcommands.Register(&cmd.Boot{Global: g}, "internal use only")
	subcommands.Register(&cmd.Gofer{}, "internal use only")
	subcommands.Register(&cmd.Create{Global: g}, "oci")
	subcommands.Register(cmd.NewStart(g), "oci")
	subcommands.Register(&cmd.Run{Global: g}, "oci")
	subcommands.Register(cmd.NewState(g), "oci")
	subcommands.Register(&cmd.Kill{Global: g}, "oci")
	subcommands.Register(&cmd.Delete{Global: g}, "oci")
	subcommands.Register(&cmd.List{Global: g}, "oci")
	subcommands.Register(&cmd.Ps{Global: g}, "oci")
	subcommands.Register(cmd.NewWait(g), "oci")
	subcommands.Register(&cmd.Spec{Global: g}, "oci")
	subcommands.Register(cmd.NewFeatures(g), "oci")
	subcommands.Register(&cmd.Exec{Global: g}, "oci")
	subcommands.Register(cmd.NewPause(g, false), "oci")
	subcommands.Register(cmd.NewPause(g, true), "oci")
	subcommands.Register(&cmd.Events{Global: g}, "oci")
	subcommands.Register(&cmd.Update{Global: g}, "oci")
	flag.Parse()
	os.Exit(int(subcommands.Execute(context.Background())))
}
