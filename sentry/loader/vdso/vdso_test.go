package vdso

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestImageValid(t *testing.T) {
	size, err := validateImage(Blob())
	if err != nil {
		t.Fatal(err)
	}
	if size == 0 || size%4096 != 0 {
		t.Fatalf("image size %d", size)
	}
	f, err := elf.NewFile(bytes.NewReader(Blob()))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			got[s.Name] = s.Version
		}
	}
	for _, name := range []string{"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"} {
		for _, n := range []string{name, "__vdso_" + name} {
			if got[n] != "LINUX_2.6" {
				t.Errorf("symbol %s has version %q, want LINUX_2.6", n, got[n])
			}
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("vDSO has PT_INTERP")
		}
	}
	ds, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(ds) != 1 || ds[0] != "linux-vdso.so.1" {
		t.Errorf("DT_SONAME = %v, %v", ds, err)
	}
	for _, tag := range []elf.DynTag{elf.DT_RELA, elf.DT_REL, elf.DT_TEXTREL, elf.DT_NEEDED, elf.DT_JMPREL} {
		if v, _ := f.DynValue(tag); len(v) != 0 {
			t.Errorf("vDSO has %v", tag)
		}
	}
	if v, _ := f.DynValue(elf.DT_HASH); len(v) == 0 {
		t.Error("vDSO lacks DT_HASH")
	}
	if v, _ := f.DynValue(elf.DT_GNU_HASH); len(v) == 0 {
		t.Error("vDSO lacks DT_GNU_HASH")
	}
}

func TestValidateImageRejects(t *testing.T) {
	if _, err := validateImage([]byte("not an elf")); err == nil {
		t.Error("garbage accepted")
	}
	b := append([]byte(nil), Blob()...)
	b[18] = 3 // EM_386
	if _, err := validateImage(b); err == nil {
		t.Error("wrong machine accepted")
	}
}

func TestBlobUpToDate(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	out := filepath.Join(t.TempDir(), "vdso.so")
	cmd := exec.Command("sh", "csrc/build.sh", out)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, o)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, Blob()) {
		t.Fatal("vdso.so is stale: run sentry/loader/vdso/csrc/build.sh (make vdso) and commit the result")
	}
}

func newTestPage() []uint64 { return make([]uint64, 4096/8) }

func TestParamsRoundTrip(t *testing.T) {
	page := newTestPage()
	p := params{page: pagePtr(page)}
	s := snapshot{flags: 1, tscBase: 0x123456789a, mult: 0xdeadbeef, shift: 31, clockMask: 0xb3,
		coarseRes: 4000000, ncpus: 7, getcpuMode: 2}
	for i := range s.baseNS {
		s.baseNS[i] = uint64(i)*1e9 + 17
	}
	p.write(&s)
	if got := p.read(); got != s {
		t.Fatalf("read %+v, wrote %+v", got, s)
	}
	if page[0]&1 != 0 {
		t.Errorf("seq odd after write: %d", page[0]&0xffffffff)
	}
	// The encoding is the C struct's: spot-check raw words.
	if page[offTSCBase/8] != s.tscBase || page[offMult/8] != s.mult || page[offBaseNS/8+7] != s.baseNS[7] {
		t.Errorf("raw layout mismatch: %x", page[:8])
	}
	if uint32(page[offShift/8]) != 31 || uint32(page[offShift/8]>>32) != 0xb3 {
		t.Errorf("shift/clock_mask word %#x", page[offShift/8])
	}
}

func TestScale(t *testing.T) {
	for _, c := range []struct {
		tsc, base, mult uint64
		shift           uint32
		want            uint64
	}{
		{100, 200, 1 << 32, 32, 0},
		{300, 200, 1 << 32, 32, 100},
		{1 << 40, 0, 3 << 31, 32, 3 << 39},
		{1<<63 + 5, 5, 1 << 32, 32, 1 << 63}, // needs the 128-bit product
		{10, 0, 7, 0, 70},
	} {
		if got := scale(c.tsc, c.base, c.mult, c.shift); got != c.want {
			t.Errorf("scale(%d, %d, %d, %d) = %d, want %d", c.tsc, c.base, c.mult, c.shift, got, c.want)
		}
	}
}

func nowNS(id int32) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// vdsoNow computes clock id the way the vDSO does.
func vdsoNow(t *testing.T, v *VDSO, id int) int64 {
	s := v.p.read()
	ns, ok := s.clockNS(id, rdtsc())
	if !ok {
		t.Fatalf("clock %d not served", id)
	}
	return int64(ns)
}

func requireTSC(t *testing.T, v *VDSO) {
	if v.p.read().flags&flagTSC == 0 {
		t.Skip("host TSC is not invariant; the vDSO always falls back to syscalls")
	}
}

func TestTimeMatchesHost(t *testing.T) {
	v := newForPage(newTestPage())
	requireTSC(t, v)
	// Let the estimate use a longer window, as it does in the sentry.
	time.Sleep(200 * time.Millisecond)
	v.Update()
	for _, c := range []struct {
		name string
		id   int
		host int32
	}{
		{"realtime", clockRealtime, unix.CLOCK_REALTIME},
		{"monotonic", clockMonotonic, unix.CLOCK_MONOTONIC},
		{"boottime", clockBoottime, unix.CLOCK_BOOTTIME},
		{"raw", clockMonotonicRaw, unix.CLOCK_MONOTONIC_RAW},
	} {
		best := int64(1 << 62)
		for i := 0; i < 50; i++ {
			lo := nowNS(c.host)
			got := vdsoNow(t, v, c.id)
			hi := nowNS(c.host)
			d := int64(0)
			if got < lo {
				d = lo - got
			} else if got > hi {
				d = got - hi
			}
			best = min(best, d)
		}
		t.Logf("%s: %d ns off", c.name, best)
		if best > 10000 {
			t.Errorf("%s: vDSO time is %d ns off the host's", c.name, best)
		}
	}
	// Wall clock via time.Now too.
	got := vdsoNow(t, v, clockRealtime)
	if d := time.Now().UnixNano() - got; d < -int64(time.Millisecond) || d > int64(time.Millisecond) {
		t.Errorf("realtime %d ns from time.Now", d)
	}
}

func TestMonotonicAcrossUpdates(t *testing.T) {
	v := newForPage(newTestPage())
	requireTSC(t, v)
	// Pretend the published frequency is 0.1% fast so that the vDSO
	// runs ahead of the host and Update has to hold and slew.
	v.mu.Lock()
	v.clock.freqMult += v.clock.freqMult / 1000
	v.clock.refOld = v.clock.refNew // keep the bad estimate for a while
	v.updateLocked()
	v.mu.Unlock()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				v.Update()
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	var last [numClocks]int64
	deadline := time.Now().Add(300 * time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
		for _, id := range []int{clockMonotonic, clockBoottime, clockMonotonicRaw} {
			now := vdsoNow(t, v, id)
			if now < last[id] {
				t.Fatalf("clock %d went back by %d ns", id, last[id]-now)
			}
			last[id] = now
		}
		n++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d rounds", n)
}

func TestGetcpuAndCPUs(t *testing.T) {
	v := newForPage(newTestPage())
	v.SetNumCPUs(3)
	if s := v.p.read(); s.ncpus != 3 {
		t.Fatalf("ncpus %d", s.ncpus)
	}
	v.SetNumCPUs(0)
	if s := v.p.read(); s.ncpus != 1 {
		t.Fatalf("ncpus %d after SetNumCPUs(0)", s.ncpus)
	}
}

func TestStartStop(t *testing.T) {
	v := newForPage(newTestPage())
	before := v.p.read()
	v.Start()
	v.Start()
	time.Sleep(UpdateInterval*2 + 50*time.Millisecond)
	v.Stop()
	v.Stop()
	after := v.p.read()
	if before.flags&flagTSC != 0 && after.tscBase == before.tscBase {
		t.Error("Start's goroutine did not update the page")
	}
	seq := *(*uint32)(v.p.page)
	time.Sleep(UpdateInterval * 2)
	if now := *(*uint32)(v.p.page); now != seq {
		t.Error("page still updated after Stop")
	}
}

func TestCHarness(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "harness")
	cmd := exec.Command("gcc", "-O2", "-Wall", "-Werror", "-DVDSO_TEST", "-Icsrc", "-o", bin, "testdata/harness.c", "csrc/vdso.c")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the harness: %v\n%s", err, o)
	}
	page := newTestPage()
	v := newForPage(page)
	requireTSC(t, v)
	time.Sleep(200 * time.Millisecond)
	v.Update()
	raw := make([]byte, 4096)
	for i, w := range page {
		for j := 0; j < 8; j++ {
			raw[i*8+j] = byte(w >> (8 * j))
		}
	}
	pageFile := filepath.Join(dir, "page")
	if err := os.WriteFile(pageFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	soFile := filepath.Join(dir, "vdso.so")
	if err := os.WriteFile(soFile, Blob(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(Blob()))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.DynamicSymbols()
	var sym uint64
	for _, s := range syms {
		if s.Name == "__vdso_clock_gettime" {
			sym = s.Value
		}
	}
	if sym == 0 {
		t.Fatal("no __vdso_clock_gettime")
	}
	out, err := exec.Command(bin, pageFile, soFile, fmt.Sprintf("%#x", sym)).CombinedOutput()
	t.Logf("harness output:\n%s", out)
	if err != nil {
		t.Fatalf("harness failed: %v", err)
	}
	want := fmt.Sprintf("layout seq=%d flags=%d tsc_base=%d mult=%d shift=%d clock_mask=%d coarse_res_ns=%d ncpus=%d getcpu_mode=%d base_ns=%d size=%d",
		offSeq, offFlags, offTSCBase, offMult, offShift, offClockMask, offCoarseRes, offNCPUs, offGetcpuMode, offBaseNS, paramsSize)
	if !strings.Contains(string(out), "vdso.so monotonic error") {
		t.Error("the harness did not test the linked blob")
	}
	if !strings.Contains(string(out), want+"\n") {
		t.Errorf("C layout differs from Go's; want %q", want)
	}
}

// TestStartSample: a sample taken earlier (by the process that starts the
// sandbox) opens the calibration window, so that New need not wait for
// it, and the frequency it gives matches one measured from scratch; a
// sample from the future, or older than maxStartAge, is not used. The
// sample survives its command-line encoding.
func TestStartSample(t *testing.T) {
	start := TakeSample()
	if s, err := ParseSample(start.String()); err != nil || s != start {
		t.Fatalf("ParseSample(%q) = %v, %v", start.String(), s, err)
	}
	if _, err := ParseSample("12,x"); err == nil {
		t.Error("ParseSample accepts garbage")
	}
	time.Sleep(calibrationTime)
	v := &VDSO{p: params{page: pagePtr(newTestPage())}}
	v.init(&start)
	requireTSC(t, v)
	if want := (tscSample{tsc: start.TSC, ns: start.Mono}); v.clock.refOld != want {
		t.Errorf("calibration window starts at %+v, want the start sample %+v", v.clock.refOld, want)
	}
	fresh := newForPage(newTestPage())
	if a, b := float64(v.clock.freqMult), float64(fresh.clock.freqMult); a < 0.99*b || a > 1.01*b {
		t.Errorf("multiplier %v from the start sample, %v from scratch", a, b)
	}
	bads := []Sample{{TSC: start.TSC + 1<<50, Mono: start.Mono + 1<<50}}
	if age := uint64(maxStartAge) + 1; start.Mono > age && start.TSC > 1 {
		bads = append(bads, Sample{TSC: start.TSC - 1, Mono: start.Mono - age})
	}
	for _, bad := range bads {
		v := &VDSO{p: params{page: pagePtr(newTestPage())}}
		v.init(&bad)
		if v.clock.refOld == (tscSample{tsc: bad.TSC, ns: bad.Mono}) {
			t.Errorf("calibration used the unusable sample %+v", bad)
		}
	}
}

// TestCalibrationDeferred: New does not wait for the first calibration
// window. With a window shorter than calibrationTime the page says "no
// TSC" (the vDSO makes the syscall), and Start's goroutine switches to
// the TSC as soon as the window is long enough, not an UpdateInterval
// later; the first TSC-based reading is not behind the host's clock.
func TestCalibrationDeferred(t *testing.T) {
	start := TakeSample()
	v := &VDSO{p: params{page: pagePtr(newTestPage())}}
	v.init(&start)
	if !v.clock.tscOK {
		t.Skip("host TSC is not invariant; the vDSO always falls back to syscalls")
	}
	if v.p.read().flags&flagTSC != 0 {
		t.Fatal("TSC parameters published before the calibration window closed")
	}
	if d := v.calibrationDue(); d <= 0 || d > calibrationTime {
		t.Fatalf("calibration due in %v, want within (0, %v]", d, calibrationTime)
	}
	if _, ok := v.Now(unix.CLOCK_MONOTONIC); ok {
		t.Error("Now serves the clock before the calibration window closed")
	}
	v.Start()
	defer v.Stop()
	deadline := time.Now().Add(UpdateInterval / 2)
	for v.p.read().flags&flagTSC == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no TSC parameters %v after New", UpdateInterval/2)
		}
		time.Sleep(100 * time.Microsecond)
	}
	for i := 0; i < 1000; i++ {
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		host := ts.Nano()
		if got := vdsoNow(t, v, clockMonotonic); got < host {
			t.Fatalf("vDSO monotonic %d behind the host's %d read before it", got, host)
		}
		// The sentry's syscall answer (Now) and the vDSO's agree: each
		// is at least the other read before it.
		a, ok := v.Now(unix.CLOCK_MONOTONIC)
		b := vdsoNow(t, v, clockMonotonic)
		c, _ := v.Now(unix.CLOCK_MONOTONIC)
		if !ok || a < host || b < a || c < b {
			t.Fatalf("readings %d (Now, ok %v), %d (vDSO), %d (Now) after the host's %d", a, ok, b, c, host)
		}
	}
}
