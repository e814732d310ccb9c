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
	subcommands.Register(&cmd.Do{Global: g}, "")
	subcommands.Register(&cmd.Boot{Global: g}, "internal use only")
	subcommands.Register(&cmd.Gofer{}, "internal use only")
	flag.Parse()
	os.Exit(int(subcommands.Execute(context.Background())))
}
