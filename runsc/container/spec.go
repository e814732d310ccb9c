package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// LoadSpec reads and checks bundle/config.json. Relative root paths are
// taken from the bundle, as the runtime spec says.
func LoadSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("JSON specification file config.json not found in bundle %s", bundle)
		}
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return nil, fmt.Errorf("config.json: unsupported ociVersion %q (want 1.x)", s.Version)
	}
	if s.Process == nil {
		return nil, errors.New("config.json: process is missing")
	}
	if len(s.Process.Args) == 0 {
		return nil, errors.New("config.json: process.args must not be empty")
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return nil, fmt.Errorf("config.json: process.cwd %q must be an absolute path", s.Process.Cwd)
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, errors.New("config.json: root.path is missing")
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	fi, err := os.Stat(s.Root.Path)
	if err != nil {
		return nil, fmt.Errorf("rootfs (%s) does not exist", s.Root.Path)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("rootfs (%s) is not a directory", s.Root.Path)
	}
	for _, r := range s.Process.Rlimits {
		if _, ok := RlimitNumber(r.Type); !ok {
			return nil, fmt.Errorf("config.json: unknown rlimit %q", r.Type)
		}
	}
	if c := s.Process.Capabilities; c != nil {
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			if _, err := CapabilityMask(set); err != nil {
				return nil, fmt.Errorf("config.json: %w", err)
			}
		}
	}
	return &s, nil
}

var rlimits = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// RlimitNumber maps an OCI rlimit type (RLIMIT_NOFILE) to its number.
func RlimitNumber(name string) (int, bool) {
	n, ok := rlimits[name]
	return n, ok
}

var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityMask turns OCI capability names into a bit set.
func CapabilityMask(names []string) (uint64, error) {
	var m uint64
outer:
	for _, n := range names {
		u := strings.ToUpper(n)
		if !strings.HasPrefix(u, "CAP_") {
			u = "CAP_" + u
		}
		for i, c := range capNames {
			if c == u {
				m |= 1 << uint(i)
				continue outer
			}
		}
		return 0, fmt.Errorf("unknown capability %q", n)
	}
	return m, nil
}

// CapabilityName returns the OCI name of capability number n.
func CapabilityName(n int) (string, bool) {
	if n < 0 || n >= len(capNames) {
		return "", false
	}
	return capNames[n], true
}
