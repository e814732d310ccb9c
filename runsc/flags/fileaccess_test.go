package flags

import (
	"flag"
	"slices"
	"testing"
)

func TestFileAccessFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		ok   bool
		pass bool // passed on to the child runsc
	}{
		{"", true, false}, // the default, exclusive
		{"--file-access=exclusive", true, false},
		{"--file-access=shared", true, true},
		{"--file-access=bogus", false, false},
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
		if got := slices.Contains(g.Args(), "--file-access=shared"); got != tc.pass {
			t.Errorf("%q: Args() = %v", tc.arg, g.Args())
		}
	}
}
