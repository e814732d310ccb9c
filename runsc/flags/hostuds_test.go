package flags

import (
	"flag"
	"slices"
	"testing"
)

func TestHostUDSFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		ok   bool
		pass bool // passed on to child processes
	}{
		{"", true, false}, // the default, none
		{"--host-uds=none", true, false},
		{"--host-uds=open", true, true},
		{"--host-uds=create", true, true},
		{"--host-uds=all", true, true},
		{"--host-uds=yes", false, false},
	} {
		fs := flag.NewFlagSet("runsc", flag.ContinueOnError)
		g := Register(fs)
		var args []string
		if tc.arg != "" {
			args = []string{tc.arg}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := g.Validate(); (err == nil) != tc.ok {
			t.Errorf("%q: Validate() = %v, want ok %v", tc.arg, err, tc.ok)
		}
		if tc.ok && slices.Contains(g.Args(), tc.arg) != tc.pass {
			t.Errorf("%q: Args() = %v", tc.arg, g.Args())
		}
	}
}
