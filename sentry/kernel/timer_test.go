package kernel

import "testing"

func TestExpireCountsMissedPeriods(t *testing.T) {
	tm := &Timer{armed: true, deadline: 100, interval: 10}
	// 100, 110, 120 and 130 have passed at 135.
	if n := tm.expireLocked(135); n != 4 {
		t.Errorf("expirations = %d, want 4", n)
	}
	if tm.deadline != 140 || !tm.armed {
		t.Errorf("deadline %d armed %v, want 140 true", tm.deadline, tm.armed)
	}
	one := &Timer{armed: true, deadline: 100}
	if n := one.expireLocked(1000); n != 1 || one.armed {
		t.Errorf("one-shot: n=%d armed=%v, want 1 false", n, one.armed)
	}
}

func TestExpireSaturates(t *testing.T) {
	tm := &Timer{armed: true, deadline: maxTime - 5, interval: maxTime / 2}
	tm.expireLocked(maxTime - 1)
	if tm.deadline != maxTime || tm.armed {
		t.Errorf("deadline %d armed %v, want saturated and disarmed", tm.deadline, tm.armed)
	}
	if addSat(maxTime-1, 10) != maxTime || mulSat(1<<40, 1<<40) != maxTime || overrunSat(1<<40) != 1<<31-1 {
		t.Error("saturating arithmetic wraps")
	}
}

func TestGetReportsLikeLinux(t *testing.T) {
	none := &Timer{notify: SigevNone, armed: true, deadline: 100, interval: 30}
	if v, iv := none.getLocked(175); v != 15 || iv != 30 {
		t.Errorf("periodic SIGEV_NONE at 175: %d/%d, want 15/30", v, iv)
	}
	oneShot := &Timer{notify: SigevNone, armed: true, deadline: 100}
	if v, _ := oneShot.getLocked(200); v != 0 || oneShot.armed {
		t.Errorf("expired one-shot SIGEV_NONE reads %d, want 0 and disarmed", v)
	}
	overdue := &Timer{notify: SigevSignal, armed: true, deadline: 100}
	if v, _ := overdue.getLocked(200); v != 1 {
		t.Errorf("overdue POSIX timer reads %d, want 1ns", v)
	}
	cpu := &Timer{notify: SigevSignal, legacy: true, armed: true, deadline: 100, clock: Clock{host: -1}}
	if v, _ := cpu.getLocked(200); v != tickNS {
		t.Errorf("overdue CPU itimer reads %d, want a tick", v)
	}
	disarmed := &Timer{interval: 50}
	if v, iv := disarmed.getLocked(0); v != 0 || iv != 50 {
		t.Errorf("disarmed: %d/%d, want 0 and its interval", v, iv)
	}
}
