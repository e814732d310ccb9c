package cgroup

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats are the host cgroup's figures for the whole sandbox (sentry,
// stubs and gofer): what the host charges the container, beside the
// sentry's own accounting of the application.
type Stats struct {
	MemoryUsage   uint64 // bytes charged now
	MemoryMax     uint64 // the peak (v1 max_usage_in_bytes, v2 memory.peak)
	MemoryLimit   uint64 // the limit (0: none)
	MemoryFailcnt uint64 // v1 failcnt; v2 memory.events "max"
	MemoryStat    map[string]uint64

	CPUTotal, CPUUser, CPUSystem uint64   // nanoseconds
	PerCPU                       []uint64 // nanoseconds, v1 cpuacct only
	ThrottlePeriods              uint64
	ThrottledPeriods             uint64
	ThrottledTime                uint64 // nanoseconds

	PidsCurrent, PidsLimit uint64 // PidsLimit 0: none
}

// userHZ is the unit of v1 cpuacct.stat (USER_HZ, 100 on every Linux
// architecture Rampart runs on).
const userHZ = 100

// Stats reads cg's figures; what a controller does not offer stays 0.
func (cg *Cgroup) Stats() *Stats {
	s := &Stats{}
	if cg.Mode == V2 {
		d := cg.Dirs[""]
		s.MemoryUsage = readUint(filepath.Join(d, "memory.current"))
		s.MemoryMax = readUint(filepath.Join(d, "memory.peak"))
		s.MemoryLimit = readUint(filepath.Join(d, "memory.max"))
		s.MemoryFailcnt = readKV(filepath.Join(d, "memory.events"))["max"]
		s.MemoryStat = readKV(filepath.Join(d, "memory.stat"))
		cpu := readKV(filepath.Join(d, "cpu.stat"))
		s.CPUTotal, s.CPUUser, s.CPUSystem = cpu["usage_usec"]*1000, cpu["user_usec"]*1000, cpu["system_usec"]*1000
		s.ThrottlePeriods, s.ThrottledPeriods, s.ThrottledTime = cpu["nr_periods"], cpu["nr_throttled"], cpu["throttled_usec"]*1000
		s.PidsCurrent = readUint(filepath.Join(d, "pids.current"))
		s.PidsLimit = readUint(filepath.Join(d, "pids.max"))
		return s
	}
	if d, ok := cg.Dirs["memory"]; ok {
		s.MemoryUsage = readUint(filepath.Join(d, "memory.usage_in_bytes"))
		s.MemoryMax = readUint(filepath.Join(d, "memory.max_usage_in_bytes"))
		s.MemoryLimit = readUint(filepath.Join(d, "memory.limit_in_bytes"))
		s.MemoryFailcnt = readUint(filepath.Join(d, "memory.failcnt"))
		s.MemoryStat = readKV(filepath.Join(d, "memory.stat"))
	}
	if d, ok := cg.Dirs["cpuacct"]; ok {
		s.CPUTotal = readUint(filepath.Join(d, "cpuacct.usage"))
		st := readKV(filepath.Join(d, "cpuacct.stat"))
		s.CPUUser, s.CPUSystem = st["user"]*1e9/userHZ, st["system"]*1e9/userHZ
		if b, err := os.ReadFile(filepath.Join(d, "cpuacct.usage_percpu")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				v, _ := strconv.ParseUint(f, 10, 64)
				s.PerCPU = append(s.PerCPU, v)
			}
		}
	}
	if d, ok := cg.Dirs["cpu"]; ok {
		cpu := readKV(filepath.Join(d, "cpu.stat"))
		s.ThrottlePeriods, s.ThrottledPeriods, s.ThrottledTime = cpu["nr_periods"], cpu["nr_throttled"], cpu["throttled_time"]
	}
	if d, ok := cg.Dirs["pids"]; ok {
		s.PidsCurrent = readUint(filepath.Join(d, "pids.current"))
		s.PidsLimit = readUint(filepath.Join(d, "pids.max"))
	}
	return s
}

// readUint reads a one-number file; "max" and errors read as 0 (none).
func readUint(p string) uint64 {
	s, err := readString(p)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// readKV reads a "key value" per line file (memory.stat, cpu.stat).
func readKV(p string) map[string]uint64 {
	out := map[string]uint64{}
	f, err := os.Open(p)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err == nil {
			out[k] = n
		}
	}
	return out
}
