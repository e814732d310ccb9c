package tmpfs

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Default limits, as Linux's: half of the machine's memory for data and
// one node per two pages of it. They are computed once at start-up (before
// the sentry's seccomp filter exists).
var (
	DefaultSize     uint64 = 1 << 32
	DefaultNrInodes uint64 = 1 << 20
)

func init() {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil && si.Totalram > 0 {
		total := uint64(si.Totalram) * uint64(si.Unit)
		DefaultSize = total / 2
		DefaultNrInodes = total / 4096 / 2
	}
}

func (fs *Filesystem) setLimits(size, nrInodes uint64) {
	if size == 0 {
		size = DefaultSize
	}
	if nrInodes == 0 {
		nrInodes = DefaultNrInodes
	}
	fs.maxPages = int64(min((size+4095)/4096, 1<<52))
	fs.maxInodes = nrInodes
}

// ParseOptions parses mount(2)'s data for a tmpfs: comma-separated
// size=N[kmg%], nr_inodes=N[kmg], mode=octal, uid=N, gid=N. Unknown or
// malformed options are EINVAL, as Linux.
func ParseOptions(data string, totalMem uint64) (Options, error) {
	opts := Options{RootMode: 0o1777}
	for _, kv := range strings.Split(data, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "size":
			if strings.HasSuffix(v, "%") {
				p, err := strconv.ParseUint(strings.TrimSuffix(v, "%"), 10, 64)
				if err != nil {
					return opts, unix.EINVAL
				}
				opts.Size = totalMem / 100 * p
				break
			}
			n, err := parseSize(v)
			if err != nil {
				return opts, err
			}
			opts.Size = n
		case "nr_inodes":
			n, err := parseSize(v)
			if err != nil {
				return opts, err
			}
			opts.NrInodes = n
		case "mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return opts, unix.EINVAL
			}
			opts.RootMode = uint32(m) & 0o7777
		case "uid":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return opts, unix.EINVAL
			}
			opts.RootUID = auth.KUID(n)
		case "gid":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return opts, unix.EINVAL
			}
			opts.RootGID = auth.KGID(n)
		default:
			return opts, unix.EINVAL
		}
	}
	return opts, nil
}

// parseSize parses a number with an optional k, m or g suffix (Linux's
// memparse).
func parseSize(v string) (uint64, error) {
	mult := uint64(1)
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			v = v[:n-1]
		}
	}
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil || n > (1<<64-1)/mult {
		return 0, unix.EINVAL
	}
	return n * mult, nil
}
