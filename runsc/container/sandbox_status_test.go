package container

import "testing"

// TestSandboxStatus: what the fenced sandbox records through its
// descriptor is what Load reports, and an exit recorded by the CLI (kill
// of an unreachable sandbox) is not overridden.
func TestSandboxStatus(t *testing.T) {
	s := Store{Root: t.TempDir()}
	if err := s.Create("c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&State{ID: "c", Status: Created}); err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenSandboxStatus("c")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		status string
		code   int
		want   string
		exited bool
	}{{Running, 0, Running, false}, {Paused, 0, Paused, false}, {Running, 0, Running, false}, {Stopped, 137, Stopped, true}} {
		if err := WriteSandboxStatus(f, c.status, c.code); err != nil {
			t.Fatal(err)
		}
		st, err := s.Load("c")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != c.want || st.Exited != c.exited || (c.exited && st.ExitStatus != c.code) {
			t.Errorf("after %s %d: %+v", c.status, c.code, st)
		}
	}
	// An exit the state file already knows wins.
	if err := s.Save(&State{ID: "c", Status: Stopped, Exited: true, ExitStatus: 9}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Load("c"); st == nil || st.ExitStatus != 9 {
		t.Errorf("recorded exit overridden: %+v", st)
	}
	// A stopped container does not come back to life.
	if err := WriteSandboxStatus(f, Running, 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Load("c"); st == nil || st.Status != Stopped {
		t.Errorf("stopped container revived: %+v", st)
	}
}
