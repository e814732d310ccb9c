package cmd

import (
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"-1": -1, "0": 0, "4096": 4096, "100k": 100 << 10, "100KB": 100 << 10,
		"64m": 64 << 20, "64MiB": 64 << 20, "1g": 1 << 30, "1.5g": 3 << 29, "2t": 2 << 40, "10b": 10} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "-2", "abc", "1x", "-5m"} {
		if got, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", bad, got)
		}
	}
}

func TestUpdateParse(t *testing.T) {
	u := &Update{memory: "128m", memorySwap: "-1", cpuShares: "512", cpuQuota: "-1", cpuPeriod: "100000",
		cpusetCpus: "0", pidsLimit: "20"}
	r, err := u.parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if *r.Memory != 128<<20 || *r.MemorySwap != -1 || *r.CPUShares != 512 || *r.CPUQuota != -1 ||
		*r.CPUPeriod != 100000 || r.CpusetCpus != "0" || *r.Pids != 20 || r.MemoryReservation != nil {
		t.Errorf("flags parsed to %+v", r)
	}
	// --resources - reads linux.resources JSON from stdin; other flags
	// are ignored then (runc).
	u = &Update{resources: "-", pidsLimit: "7"}
	r, err = u.parse(strings.NewReader(`{"memory":{"limit":1048576,"reservation":524288},"cpu":{"shares":100,"cpus":"1"},"pids":{"limit":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	if *r.Memory != 1<<20 || *r.MemoryReservation != 1<<19 || *r.CPUShares != 100 || r.CpusetCpus != "1" || *r.Pids != 3 {
		t.Errorf("resources parsed to %+v", r)
	}
	if l := sentryLimits(r); l.MemoryBytes == nil || *l.MemoryBytes == 0 || *l.MemoryBytes >= 1<<20 || *l.Pids != 3 {
		t.Errorf("sentry limits %+v", l)
	}
	if _, err := (&Update{resources: "-"}).parse(strings.NewReader("{")); err == nil {
		t.Error("bad JSON accepted")
	}
	// 0 leaves a limit alone, in the cgroup and in the sentry.
	r, err = (&Update{pidsLimit: "0", memory: "0"}).parse(nil)
	if err != nil || r.Pids != nil {
		t.Errorf("--pids-limit 0: %+v, %v", r, err)
	}
	if l := sentryLimits(r); l.MemoryBytes != nil || l.Pids != nil {
		t.Errorf("zero limits change the sentry's: %+v", l)
	}
	r, _ = (&Update{pidsLimit: "-1", memory: "-1"}).parse(nil)
	if l := sentryLimits(r); l.MemoryBytes == nil || *l.MemoryBytes != 0 || l.Pids == nil || *l.Pids != 0 {
		t.Errorf("-1 does not remove the sentry's limits: %+v", l)
	}
	if _, err := (&Update{memory: "lots"}).parse(nil); err == nil {
		t.Error("bad memory size accepted")
	}
}

// TestPodUpdatable checks which resources update applies to a pod
// member: its pids limit, and nothing of memory or CPU.
func TestPodUpdatable(t *testing.T) {
	for _, c := range []struct {
		flags Update
		ok    bool
		says  string
	}{
		{Update{pidsLimit: "5"}, true, ""},
		{Update{pidsLimit: "-1"}, true, ""},
		{Update{memory: "0"}, true, ""}, // 0 leaves it as it is
		{Update{memory: "64m"}, false, "memory"},
		{Update{memory: "-1", pidsLimit: "5"}, false, "memory"},
		{Update{memorySwap: "128m"}, false, "memory+swap"},
		{Update{memoryReservation: "1m"}, false, "memory reservation"},
		{Update{cpuShares: "512"}, false, "cpu shares"},
		{Update{cpuQuota: "50000", cpuPeriod: "100000"}, false, "cpu quota, cpu period"},
		{Update{cpusetCpus: "0"}, false, "cpuset cpus"},
	} {
		r, err := c.flags.parse(nil)
		if err != nil {
			t.Fatalf("%+v: %v", c.flags, err)
		}
		err = podUpdatable("m", r)
		if (err == nil) != c.ok || (err != nil && (!strings.Contains(err.Error(), "part of a pod") || !strings.Contains(err.Error(), c.says))) {
			t.Errorf("%+v: %v, want ok %v (%q)", c.flags, err, c.ok, c.says)
		}
	}
}
