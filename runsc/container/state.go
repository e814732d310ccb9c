// Package container owns runsc's container state on disk: one directory
// per container under the --root directory, holding a JSON state file
// (replaced atomically: written to a temporary file and renamed), a lock
// file that serialises read-modify-write cycles between runsc processes
// (flock), the sandbox's control socket, and the sandbox's own status
// record (see OpenSandboxStatus).
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Status values of the runtime spec.
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Paused   = "paused"
	Stopped  = "stopped"
)

// State is what the state file holds.
type State struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStartTime"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// ExitStatus is the init's exit status (128+N when killed by N),
	// valid when Exited.
	ExitStatus int  `json:"exitStatus"`
	Exited     bool `json:"exited"`
	// Pod, for a container that joined another's sandbox, says which
	// (pod.go); Pid is then the container's host stand-in (Pod.StandIn),
	// or that sandbox's process.
	Pod *PodMember `json:"pod,omitempty"`
}

const (
	stateFile     = "state.json"
	lockFile      = "lock"
	controlFile   = "control.sock"
	sandboxStatus = "sandbox-status"
)

var idRE = regexp.MustCompile(`^[\w+\-.]+$`)

// ValidID reports whether id is acceptable as a container id (runc's
// rule: letters, digits, _ + - and ., not "." or "..").
func ValidID(id string) error {
	if id == "" || id == "." || id == ".." || !idRE.MatchString(id) || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q", id)
	}
	return nil
}

// Store is a --root directory.
type Store struct{ Root string }

// Dir is the state directory of id.
func (s Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// ControlPath is the control socket of id.
func (s Store) ControlPath(id string) string { return filepath.Join(s.Dir(id), controlFile) }

// ErrExists is returned by Create for an id already in use.
var ErrExists = errors.New("container with given ID already exists")

// ErrNotExist is returned for an unknown id.
var ErrNotExist = errors.New("container does not exist")

// Create makes the state directory of id; it fails with ErrExists when
// the id is taken (mkdir is the atomic claim).
func (s Store) Create(id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return err
	}
	if err := os.Mkdir(s.Dir(id), 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("container with id %s: %w", id, ErrExists)
		}
		return err
	}
	return nil
}

// Lock takes the exclusive lock of id's state and returns its release.
func (s Store) Lock(id string) (func(), error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(id), lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking container %s: %w", id, err)
	}
	return func() { f.Close() }, nil
}

// Save writes st atomically (temporary file, rename): a reader sees the
// old state or the new one. The caller holds the lock. There is no fsync:
// the state describes processes that do not survive a host crash either
// (runc's state.json is not synced), and an fsync on a busy disk costs
// milliseconds of every create, start and run.
func (s Store) Save(st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	dir := s.Dir(st.ID)
	f, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, stateFile))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Load reads the state of id as saved, without checking the sandbox.
func (s Store) Load(id string) (*State, error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(id), stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("container %s: corrupt state: %w", id, err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir(id), sandboxStatus)); err == nil {
		st.mergeSandboxStatus(string(b))
	}
	return &st, nil
}

// OpenSandboxStatus opens (creating it) the file in which id's sandbox
// process records its status changes. The sandbox is fenced from the
// host's files (runsc/fence) and cannot rewrite the state file, so it
// writes this one through the descriptor opened before the fence
// (WriteSandboxStatus), and Load folds it into the state.
func (s Store) OpenSandboxStatus(id string) (*os.File, error) {
	return os.OpenFile(filepath.Join(s.Dir(id), sandboxStatus), os.O_RDWR|os.O_CREATE, 0o600)
}

// WriteSandboxStatus records status (and the init's exit status, for
// Stopped) in f, a file from OpenSandboxStatus: one fixed-length record
// rewritten in place with a single pwrite, so that a reader never sees
// a mix of two.
func WriteSandboxStatus(f *os.File, status string, exit int) error {
	rec := fmt.Sprintf("%-8s %4d\n", status, exit)
	// Not synced, as Save.
	_, err := f.WriteAt([]byte(rec), 0)
	return err
}

// mergeSandboxStatus folds the sandbox's record into st: an exit the
// state file does not know yet, or a running/paused change of a
// container that has not stopped.
func (st *State) mergeSandboxStatus(rec string) {
	f := strings.Fields(rec)
	if len(f) != 2 {
		return
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return
	}
	switch f[0] {
	case Stopped:
		if !st.Exited {
			st.Status, st.Exited, st.ExitStatus = Stopped, true, code
		}
	case Running, Paused:
		if st.Status != Stopped {
			st.Status = f[0]
		}
	}
}

// Update loads id's state under its lock, lets f change it and saves it
// if f returns true.
func (s Store) Update(id string, f func(*State) bool) (*State, error) {
	unlock, err := s.Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.Load(id)
	if err != nil {
		return nil, err
	}
	if f(st) {
		if err := s.Save(st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Remove deletes id's state directory.
func (s Store) Remove(id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	return os.RemoveAll(s.Dir(id))
}

// List returns the ids that have a state directory, sorted.
func (s Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && ValidID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// ProcStartTime returns the start time (clock ticks since boot) of host
// process pid, and whether it is alive (exists and is not a zombie).
func ProcStartTime(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false
	}
	return st, true
}

// SandboxAlive reports whether st's sandbox process still runs (the same
// process: its start time matches, so a reused pid is not taken for it).
// For a container that joined another's sandbox with a host stand-in, it
// is whether the stand-in runs, which ends with the container's init.
func SandboxAlive(st *State) bool {
	t, ok := ProcStartTime(st.Pid)
	return ok && t == st.PidStart
}

// Refresh returns st's status as seen now: stopped once the sandbox
// process is gone, whatever the file says.
func Refresh(st *State) {
	if st.Status != Stopped && !SandboxAlive(st) {
		st.Status = Stopped
	}
}
