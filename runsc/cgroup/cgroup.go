// Package cgroup owns a container's host cgroup: it detects the host's
// layout (cgroup v1 hierarchies, the v2 unified hierarchy, or both: the
// "hybrid" layout, where the controllers live in v1 and a controller-less
// v2 tree is mounted at /sys/fs/cgroup/unified), resolves
// linux.cgroupsPath as runc does, creates the cgroup, moves the runtime's
// processes into it, writes linux.resources into the controllers' files,
// freezes and thaws it (pause/resume), reads its figures (events --stats)
// and removes it on delete.
//
// In the hybrid layout the v1 hierarchies are used, as runc's cgroupfs
// driver does; the v2 tree holds no controller there.
//
// Two limits are not copied to the host verbatim, because the sandbox's
// own host footprint is not the application's: the pids limit of the host
// cgroup is HostPidsLimit (the sentry enforces the container's exact
// limit on its own tasks, and every application task costs the sandbox a
// few host threads: its task thread, a stub thread, the stub process),
// and the sentry's memory limit for application memory is
// SentryMemoryLimit, a little below the host limit, so that the sentry
// OOM-kills inside the sandbox before the host kills the whole sandbox.
//
// Nothing here is concurrent: each runsc command owns the cgroup it works
// on for the command's duration (the container's state lock serialises
// create and delete). The one exception is Join, which only reads the
// Cgroup: create moves its gofer and its sandbox at the same time.
package cgroup

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mode is the host's cgroup layout.
type Mode int

// Layouts.
const (
	// V1: only cgroup v1 hierarchies.
	V1 Mode = iota + 1
	// V2: one unified hierarchy (mounted at /sys/fs/cgroup).
	V2
	// Hybrid: v1 hierarchies hold the controllers; a v2 tree without
	// controllers is mounted beside them.
	Hybrid
)

func (m Mode) String() string {
	switch m {
	case V1:
		return "v1"
	case V2:
		return "v2"
	case Hybrid:
		return "hybrid"
	}
	return "none"
}

// Layout is where the host's cgroup hierarchies are mounted.
type Layout struct {
	Mode Mode
	// V1 maps each v1 controller to its hierarchy's mount point (several
	// controllers may share one, e.g. cpu,cpuacct).
	V1 map[string]string
	// Unified is the v2 mount point, or "".
	Unified string
}

// v1Controllers are the v1 controllers a container joins and, for some,
// configures.
var v1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio"}

// Detect reads the host's layout from /proc/self/mountinfo.
func Detect() (*Layout, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l := ParseMountInfo(f)
	if l.Mode == 0 {
		return nil, errors.New("no cgroup filesystem is mounted")
	}
	return l, nil
}

// ParseMountInfo reads a mountinfo file (proc(5)) and returns the layout
// it describes.
func ParseMountInfo(r io.Reader) *Layout {
	l := &Layout{V1: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) {
			continue
		}
		mnt, fstype := unescape(fields[4]), fields[sep+1]
		switch fstype {
		case "cgroup2":
			if l.Unified == "" {
				l.Unified = mnt
			}
		case "cgroup":
			if sep+3 >= len(fields) {
				continue
			}
			for _, o := range strings.Split(fields[sep+3], ",") {
				for _, c := range v1Controllers {
					if o == c {
						if _, ok := l.V1[c]; !ok {
							l.V1[c] = mnt
						}
					}
				}
			}
		}
	}
	switch {
	case len(l.V1) > 0 && l.Unified != "":
		l.Mode = Hybrid
	case len(l.V1) > 0:
		l.Mode = V1
	case l.Unified != "":
		l.Mode = V2
	}
	return l
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ParseProcCgroup reads a /proc/PID/cgroup file: each v1 controller's
// path, and the v2 path under the key "".
func ParseProcCgroup(r io.Reader) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// OwnCgroups returns the calling process' cgroup paths.
func OwnCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseProcCgroup(f), nil
}

// DefaultRoot is runsc's default --root (the state directory).
const DefaultRoot = "/var/run/runsc"

// DefaultPath is the cgroup of container id, kept by runsc's state
// directory root (--root), when its config.json has no
// linux.cgroupsPath: relative, so below the runtime's own cgroup (runc
// uses the bare id there; the prefix keeps our containers together).
// Container ids are unique within one root only: under any other root
// than DefaultRoot the prefix carries a short hash of root's absolute
// path ("rampart-1a2b3c4d/ID"), so that two runtimes with different
// roots (two test suites on one host) never share, and so kill on
// delete, each other's cgroups.
func DefaultPath(root, id string) string { return DefaultPrefix(root) + "/" + id }

// DefaultPrefix is the parent of DefaultPath's cgroups (and the systemd
// scope prefix of --systemd-cgroup's default) for root: "rampart" for
// DefaultRoot, else "rampart-" and the first 8 hex digits of the SHA-256
// of root's absolute, cleaned path.
func DefaultPrefix(root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	root = filepath.Clean(root)
	if root == DefaultRoot {
		return "rampart"
	}
	sum := sha256.Sum256([]byte(root))
	return "rampart-" + hex.EncodeToString(sum[:4])
}

// SystemdRunning reports whether systemd is the host's init (the test
// sd_booted(3) makes).
func SystemdRunning() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// ParseSystemdPath turns runc's --systemd-cgroup form "slice:prefix:name"
// into the cgroupfs path systemd would give the unit: the slice expanded
// into its parents ("a-b.slice" is a.slice/a-b.slice; the default slice is
// system.slice) and the scope "prefix-name.scope". A name that ends in
// ".slice" is a slice itself (at its own place in the slice tree). The
// path is absolute.
func ParseSystemdPath(p string) (string, error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got %q instead", p)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(name, ".slice") {
		return expandSlice(name)
	}
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("invalid systemd unit name %q", name)
	}
	// runc's unit name, even with an empty prefix.
	return filepath.Join(dir, prefix+"-"+name+".scope"), nil
}

// expandSlice returns the path of a systemd slice: "a-b-c.slice" lives
// at /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root.
func expandSlice(slice string) (string, error) {
	if !strings.HasSuffix(slice, ".slice") || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid systemd slice %q", slice)
	}
	if slice == "-.slice" {
		return "/", nil
	}
	base := strings.TrimSuffix(slice, ".slice")
	if base == "" || strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("invalid systemd slice %q", slice)
	}
	path, prefix := "/", ""
	for _, comp := range strings.Split(base, "-") {
		prefix += comp
		path = filepath.Join(path, prefix+".slice")
		prefix += "-"
	}
	return path, nil
}

// Cgroup is one container's cgroup, resolved to host directories. It is
// saved in the container's state directory so that later commands
// (update, pause, events, delete) find it whatever their own cgroup is.
type Cgroup struct {
	Mode Mode `json:"mode"`
	// Root is the v2 hierarchy's mount point (v2 only).
	Root string `json:"root,omitempty"`
	// Dirs maps each v1 controller to its directory; for v2 the one
	// directory is under the key "".
	Dirs map[string]string `json:"dirs"`
	// Created are the directories this runtime made (the cgroup and any
	// missing parents), deepest last; Destroy removes them.
	Created []string `json:"created,omitempty"`
	// Resources are the limits last applied (update reads the current
	// ones from here to fill in what it does not change).
	Resources Resources `json:"resources"`
}

// Resolve returns the directories of the cgroup at path (linux.cgroupsPath,
// already mapped from the systemd form) for a runtime whose own cgroups
// are own. As runc's cgroupfs drivers do: an absolute path is below each
// hierarchy's root; a relative one is below the runtime's own cgroup for
// v1, and below its parent for v2 (the runtime's own v2 cgroup has
// processes in it, so its children could not have controllers enabled).
func (l *Layout) Resolve(path string, own map[string]string) (*Cgroup, error) {
	if path == "" {
		return nil, errors.New("empty cgroup path")
	}
	clean := filepath.Clean(path)
	if strings.HasPrefix(clean, "..") || strings.Contains(clean, "/../") {
		return nil, fmt.Errorf("cgroup path %q leaves its hierarchy", path)
	}
	cg := &Cgroup{Mode: l.Mode, Dirs: map[string]string{}}
	if l.Mode == V2 {
		base := "/"
		if !filepath.IsAbs(clean) {
			base = filepath.Dir(own[""])
			if own[""] == "" {
				base = "/"
			}
		}
		cg.Root = l.Unified
		cg.Dirs[""] = filepath.Join(l.Unified, base, clean)
		return cg, nil
	}
	for c, mnt := range l.V1 {
		base := "/"
		if !filepath.IsAbs(clean) && own[c] != "" {
			base = own[c]
		}
		cg.Dirs[c] = filepath.Join(mnt, base, clean)
	}
	return cg, nil
}

// dirs returns the distinct directories of cg (comounted controllers share
// one), sorted for determinism.
func (cg *Cgroup) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range sortedKeys(cg.Dirs) {
		d := cg.Dirs[c]
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Create makes cg's directories (and missing parents, recorded in
// cg.Created), prepares them to take processes, and applies r.
func (cg *Cgroup) Create(r *Resources) error {
	for _, d := range cg.dirs() {
		if err := cg.mkdirAll(d); err != nil {
			return err
		}
	}
	if cg.Mode == V2 {
		if err := cg.enableV2Controllers(); err != nil {
			return err
		}
	} else if d, ok := cg.Dirs["cpuset"]; ok {
		if err := initCpuset(d); err != nil {
			return err
		}
	}
	if r == nil {
		return nil
	}
	return cg.Apply(r)
}

// mkdirAll makes d and its missing parents, recording each it made.
func (cg *Cgroup) mkdirAll(d string) error {
	if _, err := os.Stat(d); err == nil {
		return nil
	}
	if err := cg.mkdirAll(filepath.Dir(d)); err != nil {
		return err
	}
	if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating cgroup %s: %w", d, err)
	} else if err == nil {
		cg.Created = append(cg.Created, d)
	}
	return nil
}

// initCpuset fills cpuset.cpus and cpuset.mems of d and of its ancestors
// below the hierarchy root where they are empty (a v1 cpuset cgroup takes
// no process until both are set), from each one's parent.
func initCpuset(d string) error {
	if _, err := os.Stat(filepath.Join(d, "cpuset.cpus")); err != nil {
		return nil // the hierarchy root, or not a cpuset hierarchy
	}
	parent := filepath.Dir(d)
	if err := initCpuset(parent); err != nil {
		return err
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, _ := readString(filepath.Join(d, f))
		if cur != "" {
			continue
		}
		v, err := readString(filepath.Join(parent, f))
		if err != nil {
			return err
		}
		if err := writeFile(d, f, v); err != nil {
			return err
		}
	}
	return nil
}

// Join moves the process pid, with all its threads, into cg: a thread
// it creates meanwhile is moved too (the kernel serialises clone and
// migration), and a child it forks once Join has returned is born in cg.
//
// The first write to a cgroup.procs file after a quiet spell waits for
// an RCU grace period (the kernel switches cgroup_threadgroup_rwsem to
// its writer mode: 7-13 ms on a 2-CPU host); the writes that follow
// within a grace period take microseconds. Callers overlap that wait
// with the start-up of the process they move (runsc/cmd: startSandbox).
func (cg *Cgroup) Join(pid int) error {
	for _, d := range cg.dirs() {
		if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Procs returns the pids in cg.
func (cg *Cgroup) Procs() []int {
	seen := map[int]bool{}
	var out []int
	for _, d := range cg.dirs() {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// Destroy kills every process left in cg, waits for them to go and
// removes the directories this runtime created (retrying while the
// kernel still says EBUSY: an exiting process leaves its cgroup a little
// after it is reported dead).
func (cg *Cgroup) Destroy() error {
	deadline := time.Now().Add(5 * time.Second)
	// The processes usually go within a millisecond or two of the kill
	// (the gofer, once its sandbox has exited): the polls start short.
	pause := time.Millisecond
	backoff := func() {
		time.Sleep(pause)
		if pause < 10*time.Millisecond {
			pause *= 2
		}
	}
	for {
		procs := cg.Procs()
		for _, p := range procs {
			unix.Kill(p, unix.SIGKILL)
		}
		if len(procs) > 0 {
			// A frozen process dies only once thawed (v1).
			cg.Thaw()
		}
		if len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		backoff()
	}
	leaves := map[string]bool{}
	for _, d := range cg.dirs() {
		leaves[d] = true
	}
	var first error
	for i := len(cg.Created) - 1; i >= 0; i-- {
		d := cg.Created[i]
		if !leaves[d] {
			// A parent: it goes if no other container uses it.
			unix.Rmdir(d)
			continue
		}
		for {
			err := unix.Rmdir(d)
			if err == nil || err == unix.ENOENT {
				break
			}
			if err != unix.EBUSY || time.Now().After(deadline) {
				if first == nil {
					first = fmt.Errorf("removing cgroup %s: %w", d, err)
				}
				break
			}
			backoff()
		}
	}
	return first
}

// adoptParents records the parents of cg's directories as made by this
// runtime, so that Destroy removes them once empty (the "rampart"
// directory of default paths, shared by the containers of one --root).
func (cg *Cgroup) adoptParents() {
	made := map[string]bool{}
	for _, d := range cg.Created {
		made[d] = true
	}
	var parents []string
	for _, d := range cg.dirs() {
		if p := filepath.Dir(d); !made[p] {
			made[p] = true
			parents = append(parents, p)
		}
	}
	cg.Created = append(parents, cg.Created...)
}

// Freeze stops every process of cg and waits until the kernel says they
// are all stopped; Thaw lets them go on.
func (cg *Cgroup) Freeze() error { return cg.setFrozen(true) }

// Thaw undoes Freeze.
func (cg *Cgroup) Thaw() error { return cg.setFrozen(false) }

func (cg *Cgroup) setFrozen(frozen bool) error {
	var dir, file, want, done string
	if cg.Mode == V2 {
		dir, file, want = cg.Dirs[""], "cgroup.freeze", "0"
		if frozen {
			want = "1"
		}
		done = "frozen " + want
	} else {
		var ok bool
		if dir, ok = cg.Dirs["freezer"]; !ok {
			return nil
		}
		file, want = "freezer.state", "THAWED"
		if frozen {
			want = "FROZEN"
		}
		done = want
	}
	if err := writeFile(dir, file, want); err != nil {
		return err
	}
	for i := 0; i < 1000; i++ {
		var s string
		if cg.Mode == V2 {
			b, _ := os.ReadFile(filepath.Join(dir, "cgroup.events"))
			s = string(b)
		} else {
			s, _ = readString(filepath.Join(dir, file))
		}
		if strings.Contains(s, done) {
			return nil
		}
		if cg.Mode != V2 && i%50 == 49 {
			// v1 may stay FREEZING while a task sleeps
			// uninterruptibly; asking again retries it.
			writeFile(dir, file, want)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("cgroup %s: not %s after 1s", dir, want)
}

// FreezerState returns "FROZEN" or "THAWED" as the kernel reports it.
func (cg *Cgroup) FreezerState() string {
	if cg.Mode == V2 {
		b, _ := os.ReadFile(filepath.Join(cg.Dirs[""], "cgroup.events"))
		if strings.Contains(string(b), "frozen 1") {
			return "FROZEN"
		}
		return "THAWED"
	}
	s, _ := readString(filepath.Join(cg.Dirs["freezer"], "freezer.state"))
	return s
}

// fileName is the name of the saved cgroup in a container's state
// directory.
const fileName = "cgroup.json"

// Save writes cg into the state directory dir.
func (cg *Cgroup) Save(dir string) error {
	b, err := json.Marshal(cg)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+fileName)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, fileName))
}

// Load reads the cgroup saved in the state directory dir; it returns nil
// and no error for a container without one.
func Load(dir string) (*Cgroup, error) {
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cg Cgroup
	if err := json.Unmarshal(b, &cg); err != nil {
		return nil, fmt.Errorf("%s: %w", fileName, err)
	}
	return &cg, nil
}

func writeFile(dir, name, val string) error {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	_, err = f.WriteString(val)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroup: writing %q to %s: %w", val, p, err)
	}
	return nil
}

func readString(p string) (string, error) {
	b, err := os.ReadFile(p)
	return strings.TrimSpace(string(b)), err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
