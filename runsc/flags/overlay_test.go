package flags

import (
	"flag"
	"testing"
)

// TestOverlayFlag checks each command's default root and that the child
// runsc processes (boot, gofer) resolve the flag as their parent did.
func TestOverlayFlag(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		ok      bool
		oci, do bool // RootOverlay(true), RootOverlay(false)
	}{
		{"", true, false, true}, // OCI writes to root.path; do never writes the host
		{"--overlay=root", true, true, true},
		{"--overlay=none", true, false, false},
		{"--overlay=bogus", false, false, false},
	} {
		parse := func(args []string) *Global {
			fs := flag.NewFlagSet("runsc", flag.ContinueOnError)
			g := Register(fs)
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			return g
		}
		var args []string
		if tc.arg != "" {
			args = []string{tc.arg}
		}
		g := parse(args)
		if err := g.Validate(); (err == nil) != tc.ok {
			t.Errorf("%q: Validate() = %v, want ok %v", tc.arg, err, tc.ok)
		}
		if !tc.ok {
			continue
		}
		child := parse(g.Args())
		for _, h := range []*Global{g, child} {
			if got := h.RootOverlay(true); got != tc.oci {
				t.Errorf("%q (args %v): RootOverlay(oci) = %v, want %v", tc.arg, h.Args(), got, tc.oci)
			}
			if got := h.RootOverlay(false); got != tc.do {
				t.Errorf("%q (args %v): RootOverlay(do) = %v, want %v", tc.arg, h.Args(), got, tc.do)
			}
		}
	}
}
