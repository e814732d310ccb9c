package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resources are the limits of linux.resources that Rampart applies, with
// runc's cgroup v1 meanings: nil (or "") is unset (left as it is), -1 is
// unlimited.
type Resources struct {
	// Memory is the memory limit in bytes.
	Memory *int64 `json:"memory,omitempty"`
	// MemoryReservation is the soft limit (v1 soft_limit_in_bytes, v2
	// memory.low).
	MemoryReservation *int64 `json:"memoryReservation,omitempty"`
	// MemorySwap is memory plus swap (v1 memsw.limit_in_bytes; v2's
	// memory.swap.max is MemorySwap-Memory).
	MemorySwap *int64 `json:"memorySwap,omitempty"`
	// CPUShares is the v1 cpu.shares weight (v2: cpu.weight from
	// SharesToWeight).
	CPUShares *uint64 `json:"cpuShares,omitempty"`
	// CPUQuota and CPUPeriod are the CFS bandwidth limit in
	// microseconds (quota -1: unlimited).
	CPUQuota  *int64  `json:"cpuQuota,omitempty"`
	CPUPeriod *uint64 `json:"cpuPeriod,omitempty"`
	// CpusetCpus and CpusetMems are cpuset lists ("0-1,3").
	CpusetCpus string `json:"cpusetCpus,omitempty"`
	CpusetMems string `json:"cpusetMems,omitempty"`
	// Pids is the container's task limit (0 or -1: unlimited). The host
	// cgroup gets HostPidsLimit of it.
	Pids *int64 `json:"pids,omitempty"`
}

// FromSpec returns the resources of config.json's linux.resources (nil
// gives empty resources).
func FromSpec(r *specs.LinuxResources) *Resources {
	out := &Resources{}
	if r == nil {
		return out
	}
	if m := r.Memory; m != nil {
		out.Memory, out.MemoryReservation, out.MemorySwap = m.Limit, m.Reservation, m.Swap
	}
	if c := r.CPU; c != nil {
		out.CPUShares, out.CPUQuota, out.CPUPeriod = c.Shares, c.Quota, c.Period
		out.CpusetCpus, out.CpusetMems = c.Cpus, c.Mems
	}
	if p := r.Pids; p != nil && p.Limit != 0 {
		// 0 is unset (runc); -1 unlimited.
		l := p.Limit
		out.Pids = &l
	}
	return out
}

// Merge sets in r every field that u sets (update over the current
// resources).
func (r *Resources) Merge(u *Resources) {
	if u.Memory != nil {
		r.Memory = u.Memory
	}
	if u.MemoryReservation != nil {
		r.MemoryReservation = u.MemoryReservation
	}
	if u.MemorySwap != nil {
		r.MemorySwap = u.MemorySwap
	}
	if u.CPUShares != nil {
		r.CPUShares = u.CPUShares
	}
	if u.CPUQuota != nil {
		r.CPUQuota = u.CPUQuota
	}
	if u.CPUPeriod != nil {
		r.CPUPeriod = u.CPUPeriod
	}
	if u.CpusetCpus != "" {
		r.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		r.CpusetMems = u.CpusetMems
	}
	if u.Pids != nil {
		r.Pids = u.Pids
	}
}

// Validate rejects what runc rejects before touching a cgroup.
func (r *Resources) Validate() error {
	if r.Memory != nil && *r.Memory < -1 {
		return fmt.Errorf("invalid memory limit %d", *r.Memory)
	}
	if r.MemorySwap != nil && *r.MemorySwap < -1 {
		return fmt.Errorf("invalid memory+swap limit %d", *r.MemorySwap)
	}
	if r.MemorySwap != nil && *r.MemorySwap > 0 && r.Memory != nil && *r.Memory > 0 && *r.MemorySwap < *r.Memory {
		return errors.New("memory+swap limit should be >= memory limit")
	}
	if r.CPUShares != nil && *r.CPUShares != 0 && (*r.CPUShares < 2 || *r.CPUShares > 262144) {
		return fmt.Errorf("invalid cpu shares %d (2 to 262144)", *r.CPUShares)
	}
	if r.CPUPeriod != nil && *r.CPUPeriod != 0 && (*r.CPUPeriod < 1000 || *r.CPUPeriod > 1000000) {
		return fmt.Errorf("invalid cpu period %d (1000 to 1000000)", *r.CPUPeriod)
	}
	if r.CPUQuota != nil && *r.CPUQuota != -1 && *r.CPUQuota != 0 && *r.CPUQuota < 1000 {
		return fmt.Errorf("invalid cpu quota %d (at least 1000, or -1)", *r.CPUQuota)
	}
	return nil
}

// SharesToWeight converts v1 cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000] with runc's linear map (0 stays 0: unset).
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// SwapV2 converts v1's memory+swap limit to v2's memory.swap.max, as runc
// does: -1 is unlimited, 0 unset; otherwise memory.swap.max is the swap
// alone.
func SwapV2(memorySwap, memory int64) (int64, error) {
	if memory == -1 && memorySwap == 0 {
		return -1, nil
	}
	if memorySwap == -1 || memorySwap == 0 {
		return memorySwap, nil
	}
	if memory == 0 || memory == -1 {
		return 0, errors.New("unable to set swap limit without memory limit")
	}
	if memorySwap < memory {
		return 0, errors.New("memory+swap limit should be >= memory limit")
	}
	return memorySwap - memory, nil
}

// HostPidsLimit is the host cgroup's pids.max for a container limited to
// n tasks: the sentry enforces n itself; the host limit bounds the
// sandbox's own threads (each task: a task thread, a stub thread and,
// per process, a stub process; plus the Go runtime's threads and the
// gofer). 0 or negative means unlimited.
func HostPidsLimit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return 4*n + 128
}

// SentryMemoryLimit is the limit of the application's memory (the sentry's
// memory file) for a container limited to limit bytes: the host limit
// less room for the sentry's own heap, the stubs' page tables and the
// gofer, so that the sentry's OOM killer acts before the host's. 0 means
// unlimited.
func SentryMemoryLimit(limit int64) uint64 {
	if limit <= 0 {
		return 0
	}
	reserve := int64(32<<20) + limit/16
	if limit < 2*reserve {
		return uint64(limit / 2)
	}
	return uint64(limit - reserve)
}

// Apply writes r into cg's controller files. Unset fields are left alone.
func (cg *Cgroup) Apply(r *Resources) error {
	if err := r.Validate(); err != nil {
		return err
	}
	var err error
	if cg.Mode == V2 {
		err = cg.applyV2(r)
	} else {
		err = cg.applyV1(r)
	}
	if err != nil {
		return err
	}
	cg.Resources.Merge(r)
	return nil
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func (cg *Cgroup) applyV1(r *Resources) error {
	if d, ok := cg.Dirs["memory"]; ok {
		if err := applyV1Memory(d, r); err != nil {
			return err
		}
	} else if r.Memory != nil || r.MemoryReservation != nil || r.MemorySwap != nil {
		return errors.New("memory limits need the memory cgroup controller, which is not mounted")
	}
	if d, ok := cg.Dirs["cpu"]; ok {
		if r.CPUShares != nil && *r.CPUShares != 0 {
			if err := writeFile(d, "cpu.shares", strconv.FormatUint(*r.CPUShares, 10)); err != nil {
				return err
			}
		}
		// The period first: the kernel checks the quota against it.
		if r.CPUPeriod != nil && *r.CPUPeriod != 0 {
			if err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(*r.CPUPeriod, 10)); err != nil {
				return err
			}
		}
		if r.CPUQuota != nil && *r.CPUQuota != 0 {
			if err := writeFile(d, "cpu.cfs_quota_us", i64(*r.CPUQuota)); err != nil {
				return err
			}
		}
	}
	if d, ok := cg.Dirs["cpuset"]; ok {
		if r.CpusetCpus != "" {
			if err := writeFile(d, "cpuset.cpus", r.CpusetCpus); err != nil {
				return err
			}
		}
		if r.CpusetMems != "" {
			if err := writeFile(d, "cpuset.mems", r.CpusetMems); err != nil {
				return err
			}
		}
	}
	if d, ok := cg.Dirs["pids"]; ok && r.Pids != nil {
		v := "max"
		if n := HostPidsLimit(*r.Pids); n > 0 {
			v = i64(n)
		}
		if err := writeFile(d, "pids.max", v); err != nil {
			return err
		}
	}
	return nil
}

// applyV1Memory sets limit and memory+swap in the order the kernel
// accepts: memsw may never be below the limit, so a growing memsw is
// written first and a shrinking one last.
func applyV1Memory(d string, r *Resources) error {
	memsw := filepath.Join(d, "memory.memsw.limit_in_bytes")
	_, err := os.Stat(memsw)
	haveSwap := err == nil
	swap := r.MemorySwap
	if swap == nil && r.Memory != nil && *r.Memory == -1 && haveSwap {
		// Unlimited memory means unlimited swap too (runc).
		v := int64(-1)
		swap = &v
	}
	setSwap := func() error {
		if swap == nil || *swap == 0 {
			return nil
		}
		if !haveSwap {
			if *swap == -1 {
				return nil
			}
			return errors.New("memory+swap limit: swap accounting is not enabled on this host")
		}
		return writeFile(d, "memory.memsw.limit_in_bytes", i64(*swap))
	}
	swapFirst := false
	if swap != nil && *swap != 0 && haveSwap {
		cur, _ := readString(memsw)
		c, _ := strconv.ParseInt(cur, 10, 64)
		swapFirst = *swap == -1 || *swap > c || cur == ""
	}
	if swapFirst {
		if err := setSwap(); err != nil {
			return err
		}
	}
	if r.Memory != nil && *r.Memory != 0 {
		if err := writeFile(d, "memory.limit_in_bytes", i64(*r.Memory)); err != nil {
			return err
		}
	}
	if !swapFirst {
		if err := setSwap(); err != nil {
			return err
		}
	}
	if r.MemoryReservation != nil && *r.MemoryReservation != 0 {
		if err := writeFile(d, "memory.soft_limit_in_bytes", i64(*r.MemoryReservation)); err != nil {
			return err
		}
	}
	return nil
}

// maxOr returns "max" for a negative value, the number otherwise.
func maxOr(v int64) string {
	if v < 0 {
		return "max"
	}
	return i64(v)
}

func (cg *Cgroup) applyV2(r *Resources) error {
	d := cg.Dirs[""]
	if r.Memory != nil || r.MemorySwap != nil {
		mem := int64(0)
		if r.Memory != nil {
			mem = *r.Memory
		} else if cg.Resources.Memory != nil {
			mem = *cg.Resources.Memory
		}
		if r.MemorySwap != nil {
			sw, err := SwapV2(*r.MemorySwap, mem)
			if err != nil {
				return err
			}
			if sw != 0 {
				if err := writeFile(d, "memory.swap.max", maxOr(sw)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
		if r.Memory != nil && *r.Memory != 0 {
			if err := writeFile(d, "memory.max", maxOr(*r.Memory)); err != nil {
				return err
			}
		}
	}
	if r.MemoryReservation != nil && *r.MemoryReservation != 0 {
		if err := writeFile(d, "memory.low", maxOr(*r.MemoryReservation)); err != nil {
			return err
		}
	}
	if r.CPUShares != nil && *r.CPUShares != 0 {
		if err := writeFile(d, "cpu.weight", strconv.FormatUint(SharesToWeight(*r.CPUShares), 10)); err != nil {
			return err
		}
	}
	if v := cpuMax(r, &cg.Resources); v != "" {
		if err := writeFile(d, "cpu.max", v); err != nil {
			return err
		}
	}
	if r.CpusetCpus != "" {
		if err := writeFile(d, "cpuset.cpus", r.CpusetCpus); err != nil {
			return err
		}
	}
	if r.CpusetMems != "" {
		if err := writeFile(d, "cpuset.mems", r.CpusetMems); err != nil {
			return err
		}
	}
	if r.Pids != nil {
		if err := writeFile(d, "pids.max", maxOr(HostPidsLimit(*r.Pids))); err != nil {
			return err
		}
	}
	return nil
}

// cpuMax is v2's cpu.max for r ("QUOTA PERIOD", QUOTA "max" when
// unlimited), keeping from cur the half r does not set; "" when r sets
// neither.
func cpuMax(r, cur *Resources) string {
	if (r.CPUQuota == nil || *r.CPUQuota == 0) && (r.CPUPeriod == nil || *r.CPUPeriod == 0) {
		return ""
	}
	quota, period := r.CPUQuota, r.CPUPeriod
	if quota == nil || *quota == 0 {
		quota = cur.CPUQuota
	}
	if period == nil || *period == 0 {
		period = cur.CPUPeriod
	}
	s := "max"
	if quota != nil && *quota > 0 {
		s = i64(*quota)
	}
	if period != nil && *period != 0 {
		s += " " + strconv.FormatUint(*period, 10)
	}
	return s
}

// enableV2Controllers turns on, in each ancestor of the cgroup below the
// hierarchy root, the controllers the container uses that its parent
// offers (cgroup.subtree_control), so that the cgroup has their files.
func (cg *Cgroup) enableV2Controllers() error {
	d := cg.Dirs[""]
	rel, err := filepath.Rel(cg.Root, filepath.Dir(d))
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is not below %s", d, cg.Root)
	}
	chain := []string{cg.Root}
	if rel != "." {
		p := cg.Root
		for _, comp := range strings.Split(rel, "/") {
			p = filepath.Join(p, comp)
			chain = append(chain, p)
		}
	}
	for _, p := range chain {
		avail, err := readString(filepath.Join(p, "cgroup.controllers"))
		if err != nil {
			continue
		}
		var enable []string
		for _, c := range strings.Fields(avail) {
			switch c {
			case "cpu", "cpuset", "memory", "pids":
				enable = append(enable, "+"+c)
			}
		}
		if len(enable) == 0 {
			continue
		}
		if err := writeFile(p, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
			return err
		}
	}
	return nil
}
