package proc

import (
	"path"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// The sandbox's own sysctls: the writable files of /proc/sys that are the
// sandbox's (per network, IPC or UTS namespace on Linux), which a
// container runtime may set from config.json's linux.sysctl and the
// application may read and, as root, change. Values are vectors of
// integers, shown tab-separated as Linux's proc_dointvec shows them.
// kernel.hostname and kernel.domainname are the kernel's UTS names
// (sys.go).

// sysctlDef is one writable sysctl: its path below /proc/sys, its
// default value, and the range each of its fields must be in.
type sysctlDef struct {
	path     string
	def      []uint64
	min, max uint64
}

// sysctlDefs are the sandbox's writable sysctls. Keep each directory's
// entries together: they are listed in this order.
var sysctlDefs = []sysctlDef{
	{"fs/mqueue/msg_max", []uint64{10}, 1, 65536},
	{"fs/mqueue/msgsize_max", []uint64{8192}, 128, 16777216},
	{"fs/mqueue/queues_max", []uint64{256}, 0, 1<<31 - 1},
	{"kernel/msgmax", []uint64{8192}, 0, 1<<31 - 1},
	{"kernel/msgmnb", []uint64{16384}, 0, 1<<31 - 1},
	{"kernel/msgmni", []uint64{32000}, 0, 1<<15 - 1},
	{"kernel/sem", []uint64{32000, 1024000000, 500, 32000}, 0, 1<<31 - 1},
	{"kernel/shmall", []uint64{18446744073692774399}, 0, 1<<64 - 1},
	{"kernel/shmmax", []uint64{18446744073692774399}, 0, 1<<64 - 1},
	{"kernel/shmmni", []uint64{4096}, 1, 1 << 15},
	{"net/core/somaxconn", []uint64{4096}, 0, 1<<31 - 1},
	{"net/ipv4/ip_default_ttl", []uint64{64}, 1, 255},
	{"net/ipv4/ip_forward", []uint64{0}, 0, 1},
	{"net/ipv4/ip_local_port_range", []uint64{32768, 60999}, 1, 65535},
	{"net/ipv4/ip_nonlocal_bind", []uint64{0}, 0, 1},
	{"net/ipv4/ip_unprivileged_port_start", []uint64{1024}, 0, 65535},
	{"net/ipv4/ping_group_range", []uint64{1, 0}, 0, 1<<31 - 1},
	{"net/ipv4/tcp_fin_timeout", []uint64{60}, 0, 1<<31 - 1},
	{"net/ipv4/tcp_keepalive_intvl", []uint64{75}, 1, 32767},
	{"net/ipv4/tcp_keepalive_probes", []uint64{9}, 1, 127},
	{"net/ipv4/tcp_keepalive_time", []uint64{7200}, 1, 32767},
	{"net/ipv4/tcp_syncookies", []uint64{1}, 0, 2},
	{"net/ipv4/tcp_tw_reuse", []uint64{2}, 0, 2},
	{"net/ipv6/conf/all/disable_ipv6", []uint64{0}, 0, 1},
	{"net/ipv6/conf/default/disable_ipv6", []uint64{0}, 0, 1},
	{"net/unix/max_dgram_qlen", []uint64{10}, 0, 1<<31 - 1},
}

// Sysctls hold the values of the sandbox's writable sysctls. One is
// shared by every procfs instance of a sandbox (Options.Sysctls).
type Sysctls struct {
	mu sync.Mutex
	// vals maps a sysctl's path below /proc/sys to its value. It is
	// protected by mu.
	vals map[string][]uint64
}

// NewSysctls returns the sysctls at their defaults.
func NewSysctls() *Sysctls {
	s := &Sysctls{vals: make(map[string][]uint64, len(sysctlDefs))}
	for _, d := range sysctlDefs {
		s.vals[d.path] = append([]uint64(nil), d.def...)
	}
	return s
}

// SysctlPath turns a sysctl key as config.json and sysctl(8) name it
// (net.ipv4.ip_forward, or net/ipv4/ip_forward) into its path below
// /proc/sys.
func SysctlPath(key string) string {
	if strings.Contains(key, "/") {
		return strings.Trim(path.Clean("/"+key), "/")
	}
	return strings.ReplaceAll(key, ".", "/")
}

// Value returns the value of the sysctl at p (a path below /proc/sys) as
// its file shows it, and whether the sandbox has that writable sysctl.
func (s *Sysctls) Value(p string) (string, bool) {
	s.mu.Lock()
	v, ok := s.vals[p]
	s.mu.Unlock()
	if !ok {
		return "", false
	}
	f := make([]string, len(v))
	for i, x := range v {
		f[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(f, "\t") + "\n", true
}

// Set parses data as a write to the sysctl at p and stores it: as many
// whitespace-separated decimal fields as the sysctl has, each in its
// range (EINVAL otherwise), ENOENT for a path that is not one of the
// sandbox's writable sysctls.
func (s *Sysctls) Set(p, data string) error {
	var def *sysctlDef
	for i := range sysctlDefs {
		if sysctlDefs[i].path == p {
			def = &sysctlDefs[i]
		}
	}
	if def == nil {
		return unix.ENOENT
	}
	fields := strings.Fields(data)
	if len(fields) != len(def.def) {
		return unix.EINVAL
	}
	v := make([]uint64, len(fields))
	for i, f := range fields {
		x, err := strconv.ParseUint(f, 10, 64)
		if err != nil || x < def.min || x > def.max {
			return unix.EINVAL
		}
		v[i] = x
	}
	s.mu.Lock()
	s.vals[p] = v
	s.mu.Unlock()
	return nil
}

// Uint returns the first field of the sysctl at p, for the parts of the
// sentry that obey one (0 if p is not a sysctl).
func (s *Sysctls) Uint(p string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.vals[p]; len(v) > 0 {
		return v[0]
	}
	return 0
}

// sysctlFile declares the file of the writable sysctl at p (mode 0644:
// root may write it, as on Linux).
func sysctlFile(p string) staticEntry {
	return fileEntry(path.Base(p), 0o644, &fileOps{
		Gen: func(_ vfs.Context, n *inode) ([]byte, error) {
			v, ok := n.Data.fs.sysctls.Value(p)
			if !ok {
				return nil, unix.ENOENT
			}
			return []byte(v), nil
		},
		Write: func(_ vfs.Context, n *inode, data []byte) error {
			return n.Data.fs.sysctls.Set(p, string(data))
		},
	})
}

// withSysctls returns dir (the directory at prefix below /proc/sys, ""
// for /proc/sys itself) with the files and directories of the writable
// sysctls below it added after its own entries; a writable sysctl
// replaces a fixed entry of the same name.
func withSysctls(prefix string, dir staticDir) staticDir {
	out := append(staticDir(nil), dir...)
	var subdirs []string
	for _, d := range sysctlDefs {
		rest, ok := strings.CutPrefix(d.path, prefix)
		if !ok {
			continue
		}
		name, deeper, _ := strings.Cut(rest, "/")
		if deeper == "" {
			if e := out.Find(name); e != nil {
				*e = sysctlFile(d.path)
			} else {
				out = append(out, sysctlFile(d.path))
			}
			continue
		}
		if len(subdirs) == 0 || subdirs[len(subdirs)-1] != name {
			subdirs = append(subdirs, name)
		}
	}
	for _, name := range subdirs {
		if e := out.Find(name); e != nil {
			// A fixed subdirectory keeps its entries; one that is
			// not a static list is left as it is.
			c := &inode{}
			e.Make(c)
			if sub, ok := c.Dir.(staticDir); ok {
				*e = dirEntryOf(name, withSysctls(prefix+name+"/", sub))
			}
			continue
		}
		out = append(out, dirEntryOf(name, withSysctls(prefix+name+"/", nil)))
	}
	return out
}
