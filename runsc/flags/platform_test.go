package flags

import (
	"flag"
	"testing"
)

func TestPlatformFlag(t *testing.T) {
	for _, tc := range []struct {
		arg string
		ok  bool
	}{
		{"", true}, // the default, systrap
		{"--platform=ptrace", true},
		{"--platform=systrap", true},
		{"--platform=kvm", false},
		{"--platform=", false},
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
		if tc.arg == "" && g.Platform != "systrap" {
			t.Errorf("default platform %q, want systrap", g.Platform)
		}
		if tc.ok && g.Args()[0] != "--platform="+g.Platform {
			t.Errorf("%q: Args()[0] = %q", tc.arg, g.Args()[0])
		}
	}
}

// TestSystrapPatchFlag: syscall patching is on unless --systrap-patch=false,
// which reaches the sandbox process.
func TestSystrapPatchFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		on   bool
	}{
		{nil, true},
		{[]string{"--systrap-patch=true"}, true},
		{[]string{"--systrap-patch=false"}, false},
	} {
		fs := flag.NewFlagSet("runsc", flag.ContinueOnError)
		g := Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if g.SystrapPatch != tc.on {
			t.Errorf("%q: SystrapPatch = %v, want %v", tc.args, g.SystrapPatch, tc.on)
		}
		// The child parses what Args passes on.
		fs2 := flag.NewFlagSet("runsc", flag.ContinueOnError)
		g2 := Register(fs2)
		if err := fs2.Parse(g.Args()); err != nil {
			t.Fatal(err)
		}
		if g2.SystrapPatch != tc.on {
			t.Errorf("%q: after Args, SystrapPatch = %v, want %v", tc.args, g2.SystrapPatch, tc.on)
		}
	}
}
