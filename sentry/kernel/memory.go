package kernel

import "golang.org/x/sys/unix"

// MemoryTotal returns the sandbox's memory size as procfs and sysfs report
// it: limit when it is set (not 0), else the host's RAM.
func MemoryTotal(limit uint64) uint64 {
	if limit != 0 {
		return limit
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 1 << 30
	}
	unit := uint64(si.Unit)
	if unit == 0 {
		unit = 1
	}
	return si.Totalram * unit
}
