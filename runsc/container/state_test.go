package container

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func newStore(t *testing.T) Store {
	return Store{Root: filepath.Join(t.TempDir(), "root")}
}

func TestCreateClaimsID(t *testing.T) {
	s := newStore(t)
	if err := s.Create("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create("a"); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	// Concurrent claims of one id: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Create("b") == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent Creates of one id succeeded, want 1", wins)
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"a", "A-1_b.c+d", "0123456789abcdef"} {
		if err := ValidID(id); err != nil {
			t.Errorf("ValidID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "x\n"} {
		if ValidID(id) == nil {
			t.Errorf("ValidID(%q) accepted", id)
		}
	}
}

// TestUpdateSerialises checks that the lock makes read-modify-write cycles
// atomic: concurrent increments are all kept.
func TestUpdateSerialises(t *testing.T) {
	s := newStore(t)
	if err := s.Create("c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&State{ID: "c", Status: Created}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := s.Update("c", func(st *State) bool { st.ExitStatus++; return true }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := s.Load("c")
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitStatus != workers*each {
		t.Fatalf("counter %d after %d locked increments", st.ExitStatus, workers*each)
	}
}

// TestSaveIsAtomic checks that a reader never sees a partial state file
// while writers replace it.
func TestSaveIsAtomic(t *testing.T) {
	s := newStore(t)
	if err := s.Create("d"); err != nil {
		t.Fatal(err)
	}
	big := map[string]string{}
	for i := 0; i < 200; i++ {
		big[string(rune('a'+i%26))+string(rune('a'+i/26))] = "some annotation value that makes the file long"
	}
	if err := s.Save(&State{ID: "d", Annotations: big}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Save(&State{ID: "d", Pid: i, Annotations: big}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 300; i++ {
		st, err := s.Load("d")
		if err != nil {
			t.Errorf("read %d: %v", i, err)
			break
		}
		if len(st.Annotations) != len(big) {
			t.Errorf("read %d: %d annotations, want %d", i, len(st.Annotations), len(big))
			break
		}
	}
	close(stop)
	wg.Wait()
	// No temporary file is left behind.
	ents, _ := os.ReadDir(s.Dir("d"))
	for _, e := range ents {
		if e.Name() != stateFile && e.Name() != lockFile {
			t.Errorf("left in the state directory: %s", e.Name())
		}
	}
}

func TestLoadUnknownAndRemove(t *testing.T) {
	s := newStore(t)
	if _, err := s.Load("nope"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Load of an unknown id: %v", err)
	}
	if _, err := s.Lock("nope"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Lock of an unknown id: %v", err)
	}
	if err := s.Create("e"); err != nil {
		t.Fatal(err)
	}
	ids, err := s.List()
	if err != nil || len(ids) != 1 || ids[0] != "e" {
		t.Fatalf("List: %v %v", ids, err)
	}
	if err := s.Remove("e"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir("e")); !os.IsNotExist(err) {
		t.Fatalf("state directory still there: %v", err)
	}
}

func TestRefresh(t *testing.T) {
	start, ok := ProcStartTime(os.Getpid())
	if !ok {
		t.Fatal("ProcStartTime of this process: not alive")
	}
	st := &State{Status: Running, Pid: os.Getpid(), PidStart: start}
	Refresh(st)
	if st.Status != Running {
		t.Fatalf("live process: status %s", st.Status)
	}
	// Same pid, another start time: a reused pid is not the sandbox.
	st.PidStart++
	Refresh(st)
	if st.Status != Stopped {
		t.Fatalf("reused pid: status %s", st.Status)
	}
}

func TestLoadSpec(t *testing.T) {
	b := t.TempDir()
	if _, err := LoadSpec(b); err == nil {
		t.Fatal("LoadSpec without config.json succeeded")
	}
	os.Mkdir(filepath.Join(b, "rootfs"), 0o755)
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(b, "config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`)
	s, err := LoadSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != filepath.Join(b, "rootfs") {
		t.Errorf("root %q, want it relative to the bundle", s.Root.Path)
	}
	for _, bad := range []string{
		`{`,
		`{"ociVersion":"2.0.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`,
		`{"ociVersion":"1.0.2","process":{"args":[],"cwd":"/"},"root":{"path":"rootfs"}}`,
		`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"rel"},"root":{"path":"rootfs"}}`,
		`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"missing"}}`,
		`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_BOGUS"}]},"root":{"path":"rootfs"}}`,
		`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_BOGUS"]}},"root":{"path":"rootfs"}}`,
	} {
		write(bad)
		if _, err := LoadSpec(b); err == nil {
			t.Errorf("LoadSpec accepted %s", bad)
		}
	}
}

func TestCapabilityMask(t *testing.T) {
	m, err := CapabilityMask([]string{"CAP_KILL", "chown", "CAP_CHECKPOINT_RESTORE"})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1<<5 | 1<<0 | 1<<40); m != want {
		t.Fatalf("mask %#x, want %#x", m, want)
	}
}
