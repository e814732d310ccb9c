package kernel

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// TestDoSyscallNoAllocs checks that dispatching a syscall, and the
// user-time accounting around the switch that brought it, allocate
// nothing: they run once per application syscall.
func TestDoSyscallNoAllocs(t *testing.T) {
	k, _, ts := seccompGroup(1)
	task := ts[0]
	table := &SyscallTable{}
	wrapped := fmt.Errorf("inside the sentry: %w", unix.EBADF)
	table.Register(unix.SYS_GETPID, func(*Task, arch.SyscallArguments) (uintptr, error) { return 7, nil })
	table.Register(unix.SYS_READ, func(*Task, arch.SyscallArguments) (uintptr, error) { return 0, unix.EAGAIN })
	table.Register(unix.SYS_WRITE, func(*Task, arch.SyscallArguments) (uintptr, error) { return 0, wrapped })
	k.SyscallTable = table
	for _, c := range []struct {
		nr   uint64
		want int64
	}{
		{unix.SYS_GETPID, 7},
		{unix.SYS_READ, -int64(unix.EAGAIN)},
		{unix.SYS_WRITE, -int64(unix.EBADF)},
	} {
		run := func() {
			task.enterUser()
			task.leaveUser()
			task.regs.Orig_rax = c.nr
			task.doSyscall()
		}
		run()
		if got := int64(task.regs.Rax); got != c.want {
			t.Errorf("syscall %d returned %d, want %d", c.nr, got, c.want)
		}
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("syscall %d: %v allocations per call", c.nr, n)
		}
	}
}

// TestUserTime checks the user-time word: time inside a switch counts
// while the switch runs and after it, time outside does not, and readers
// never see it go backwards.
func TestUserTime(t *testing.T) {
	_, _, ts := seccompGroup(1)
	task := ts[0]
	user := func() time.Duration { u, _ := task.cpuTime(); return u }
	if u := user(); u != 0 {
		t.Fatalf("user time before any switch: %v", u)
	}
	task.enterUser()
	time.Sleep(20 * time.Millisecond)
	in := user()
	if in < 15*time.Millisecond || in > 2*time.Second {
		t.Errorf("user time 20 ms into a switch: %v", in)
	}
	task.leaveUser()
	after := user()
	if after < in {
		t.Errorf("user time went back from %v to %v", in, after)
	}
	time.Sleep(20 * time.Millisecond)
	if u := user(); u != after {
		t.Errorf("user time moved outside a switch: %v then %v", after, u)
	}
	// Many short switches add up and stay monotonic for a reader.
	prev := after
	for i := 0; i < 10000; i++ {
		task.enterUser()
		if u := user(); u < prev {
			t.Fatalf("user time went back from %v to %v", prev, u)
		} else {
			prev = u
		}
		task.leaveUser()
	}
}

// TestTicksToNS checks the conversion of the user-time clock.
func TestTicksToNS(t *testing.T) {
	if !tscClock {
		t.Skip("no invariant TSC: the clock is in nanoseconds already")
	}
	t0, n0 := cpuTicks(), time.Now()
	time.Sleep(50 * time.Millisecond)
	d, want := ticksToNS(cpuTicks()-t0), time.Since(n0)
	if diff := time.Duration(d) - want; diff < -2*time.Millisecond || diff > 2*time.Millisecond {
		t.Errorf("50 ms of ticks is %v, the monotonic clock says %v", time.Duration(d), want)
	}
	if got := ticksToNS(-5); got != 0 {
		t.Errorf("ticksToNS(-5) = %d", got)
	}
	if got := ticksToNS(1<<63 - 1); got <= 0 {
		t.Errorf("ticksToNS(max) = %d", got)
	}
}
