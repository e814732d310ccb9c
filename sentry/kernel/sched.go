package kernel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// This file holds the per-task state that prctl and the sched_* and
// *priority syscalls record: no_new_privs, dumpability, nice value,
// scheduling policy and priority, CPU affinity and timer slack. The
// sentry schedules its task goroutines itself, so nothing here changes
// how tasks run; it is recorded and reported back as Linux would, with
// Linux's validation and permission rules.

// Scheduling policies (sched(7)).
const (
	SchedNormal   = 0
	SchedFIFO     = 1
	SchedRR       = 2
	SchedBatch    = 3
	SchedIdle     = 5
	SchedDeadline = 6

	// SchedResetOnFork is or'ed into a policy: children start with
	// SCHED_NORMAL and a non-negative nice value.
	SchedResetOnFork = 0x40000000
)

// Nice limits and the default timer slack.
const (
	MinNice           = -20
	MaxNice           = 19
	defaultTimerSlack = 50000 // ns
	maxRTPriority     = 99
)

// taskPolicy is a task's prctl/scheduler state. The zero value is what
// the first process starts with.
type taskPolicy struct {
	// noNewPrivs and notDumpable are read by anyone.
	noNewPrivs  atomic.Bool
	notDumpable atomic.Bool
	// personality is personality(2)'s execution domain and flags.
	personality atomic.Uint32

	// mu protects the fields below. Lock order: Kernel.mu, then mu.
	mu sync.Mutex
	// nice is the nice value, -20..19.
	nice int32
	// policy is the scheduling policy (Sched*), rtPriority its priority
	// (1..99 for FIFO and RR, else 0).
	policy, rtPriority int32
	resetOnFork        bool
	// affinity is the CPU mask, nil for every CPU of the sandbox.
	affinity []uint64
	// timerSlack and defaultSlack are PR_SET_TIMERSLACK's value and
	// what setting 0 restores, in ns; 0 means defaultTimerSlack.
	// rtSlack is set while an RT policy forces the slack to 0.
	timerSlack, defaultSlack uint64
}

// inheritPolicy gives a new task (clone, fork, thread) its parent's
// policy state: everything is inherited, except that SCHED_RESET_ON_FORK
// resets the policy and a negative nice value, and the child's default
// timer slack is the parent's current one. Called by Clone before the
// child runs.
func (t *Task) inheritPolicy(parent *Task) {
	p, c := &parent.policy, &t.policy
	c.noNewPrivs.Store(p.noNewPrivs.Load())
	c.notDumpable.Store(p.notDumpable.Load())
	c.personality.Store(p.personality.Load())
	p.mu.Lock()
	defer p.mu.Unlock()
	c.nice, c.policy, c.rtPriority = p.nice, p.policy, p.rtPriority
	c.affinity = append([]uint64(nil), p.affinity...)
	if p.affinity == nil {
		c.affinity = nil
	}
	c.timerSlack = p.slackLocked()
	c.defaultSlack = c.timerSlack
	if p.resetOnFork {
		if c.policy == SchedFIFO || c.policy == SchedRR {
			c.policy, c.rtPriority = SchedNormal, 0
		}
		if c.nice < 0 {
			c.nice = 0
		}
	}
}

func rtPolicy(p int32) bool { return p == SchedFIFO || p == SchedRR }

func (p *taskPolicy) slackLocked() uint64 {
	if rtPolicy(p.policy) {
		return 0 // Linux: real-time tasks have no timer slack
	}
	if p.timerSlack == 0 {
		return defaultTimerSlack
	}
	return p.timerSlack
}

// TimerSlack returns prctl(PR_GET_TIMERSLACK) in nanoseconds.
func (t *Task) TimerSlack() uint64 {
	t.policy.mu.Lock()
	defer t.policy.mu.Unlock()
	return t.policy.slackLocked()
}

// SetTimerSlack implements prctl(PR_SET_TIMERSLACK): 0 restores the
// default (the slack inherited at clone); real-time tasks ignore it.
func (t *Task) SetTimerSlack(ns uint64) {
	p := &t.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	if rtPolicy(p.policy) {
		return
	}
	if ns == 0 {
		ns = p.defaultSlack
	}
	p.timerSlack = ns
}

// TaskByTID returns the task a pid argument of the sched_* and priority
// calls names: t itself for 0, else the live task with that tid (nil if
// there is none).
func (t *Task) TaskByTID(tid ThreadID) *Task {
	if tid == 0 {
		return t
	}
	return t.ns.TaskWithID(tid)
}

// Nice returns the task's nice value.
func (t *Task) Nice() int {
	t.policy.mu.Lock()
	defer t.policy.mu.Unlock()
	return int(t.policy.nice)
}

// canNice is Linux's can_nice: lowering the nice value to nice needs
// RLIMIT_NICE to allow it (20-nice <= limit) or CAP_SYS_NICE.
func (t *Task) canNice(target *Task, nice int) bool {
	lim := target.tg.limits.Get(unix.RLIMIT_NICE).Cur
	return uint64(20-nice) <= lim || t.Credentials().HasCapability(auth.CAP_SYS_NICE)
}

// setNiceOf is Linux's set_one_prio: EPERM unless t's effective uid is the
// target's real or effective uid or t has CAP_SYS_NICE; EACCES when
// lowering the value without the right (see canNice).
func (t *Task) setNiceOf(target *Task, nice int) error {
	c, tc := t.Credentials(), target.Credentials()
	if tc.RealKUID != c.EffectiveKUID && tc.EffectiveKUID != c.EffectiveKUID && !c.HasCapability(auth.CAP_SYS_NICE) {
		return unix.EPERM
	}
	if nice < target.Nice() && !t.canNice(target, nice) {
		return unix.EACCES
	}
	target.policy.mu.Lock()
	target.policy.nice = int32(nice)
	target.policy.mu.Unlock()
	return nil
}

// setpriority/getpriority "which" values.
const (
	PrioProcess = 0
	PrioPgrp    = 1
	PrioUser    = 2
)

// priorityTargets returns the tasks a which/who pair of getpriority and
// setpriority names (ESRCH when none): one thread for PRIO_PROCESS, every
// thread of the process group for PRIO_PGRP, every thread whose real uid
// is who for PRIO_USER (0 meaning the caller's group or real uid).
func (t *Task) priorityTargets(which, who int) ([]*Task, error) {
	k := t.k
	var ts []*Task
	switch which {
	case PrioProcess:
		if o := t.TaskByTID(ThreadID(who)); o != nil {
			ts = append(ts, o)
		}
	case PrioPgrp:
		k.mu.Lock()
		pgid := t.ns.pgrpRootIDLocked(ThreadID(who))
		if who == 0 {
			pgid = t.tg.pgid
		}
		for _, o := range t.ns.tasks {
			if pgid != 0 && o.tg.pgid == pgid {
				ts = append(ts, o)
			}
		}
		k.mu.Unlock()
	case PrioUser:
		uid := auth.KUID(who)
		if who == 0 {
			uid = t.Credentials().RealKUID
		}
		k.mu.Lock()
		for _, o := range t.ns.tasks {
			if o.Credentials().RealKUID == uid {
				ts = append(ts, o)
			}
		}
		k.mu.Unlock()
	default:
		return nil, unix.EINVAL
	}
	if len(ts) == 0 {
		return nil, unix.ESRCH
	}
	return ts, nil
}

// GetPriority implements getpriority(2): the highest priority (lowest
// nice value) among the targets, as 20-nice (1..40) like the raw syscall.
func (t *Task) GetPriority(which, who int) (int, error) {
	ts, err := t.priorityTargets(which, who)
	if err != nil {
		return 0, err
	}
	best := 0
	for _, o := range ts {
		if v := 20 - o.Nice(); v > best {
			best = v
		}
	}
	return best, nil
}

// SetPriority implements setpriority(2): nice is clamped to -20..19 and
// set on every target the caller may renice; the error is the last
// failure if no target was changed.
func (t *Task) SetPriority(which, who, nice int) error {
	if which < PrioProcess || which > PrioUser {
		return unix.EINVAL
	}
	if nice < MinNice {
		nice = MinNice
	}
	if nice > MaxNice {
		nice = MaxNice
	}
	ts, err := t.priorityTargets(which, who)
	if err != nil {
		return err
	}
	err = unix.ESRCH
	for _, o := range ts {
		if e := t.setNiceOf(o, nice); e != nil {
			err = e
		} else if err == unix.ESRCH {
			err = nil
		}
	}
	return err
}

// SchedParams are a task's scheduling policy (with SchedResetOnFork when
// set) and real-time priority.
type SchedParams struct {
	Policy, Priority int
}

// Scheduler returns the task's policy (or'ed with SchedResetOnFork) and
// priority, for sched_getscheduler and sched_getparam.
func (t *Task) Scheduler() SchedParams {
	p := &t.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	s := SchedParams{Policy: int(p.policy), Priority: int(p.rtPriority)}
	if p.resetOnFork {
		s.Policy |= SchedResetOnFork
	}
	return s
}

// SetScheduler implements sched_setscheduler (policy >= 0) and
// sched_setparam (policy -1, keeping the current policy) on target, with
// Linux's checks (kernel/sched/syscalls.c): EINVAL for an unknown policy
// or a priority outside its range (1..99 for FIFO and RR, 0 otherwise);
// EPERM, without CAP_SYS_NICE, for switching to a real-time policy or
// raising the priority beyond RLIMIT_RTPRIO, leaving SCHED_IDLE without
// RLIMIT_NICE, changing another user's task, or clearing reset-on-fork.
// SCHED_DEADLINE needs sched_setattr and is EINVAL here.
func (t *Task) SetScheduler(target *Task, policy int, prio int64) error {
	p := &target.policy
	p.mu.Lock()
	oldPolicy, oldPrio, oldReset, oldNice := int(p.policy), int64(p.rtPriority), p.resetOnFork, int(p.nice)
	p.mu.Unlock()

	reset := oldReset
	if policy < 0 {
		policy = oldPolicy
	} else {
		reset = policy&SchedResetOnFork != 0
		policy &^= SchedResetOnFork
		switch policy {
		case SchedNormal, SchedFIFO, SchedRR, SchedBatch, SchedIdle:
		default:
			return unix.EINVAL
		}
	}
	rt := policy == SchedFIFO || policy == SchedRR
	if prio < 0 || prio > maxRTPriority || rt != (prio != 0) {
		return unix.EINVAL
	}

	c, tc := t.Credentials(), target.Credentials()
	needPriv := false
	if rt {
		rtLimit := target.tg.limits.Get(unix.RLIMIT_RTPRIO).Cur
		if policy != oldPolicy && rtLimit == 0 {
			needPriv = true
		}
		if prio > oldPrio && uint64(prio) > rtLimit {
			needPriv = true
		}
	}
	if oldPolicy == SchedIdle && policy != SchedIdle && !t.canNice(target, oldNice) {
		needPriv = true
	}
	if !sameOwner(c, tc) {
		needPriv = true
	}
	if oldReset && !reset {
		needPriv = true
	}
	if needPriv && !c.HasCapability(auth.CAP_SYS_NICE) {
		return unix.EPERM
	}

	p.mu.Lock()
	wasRT := rtPolicy(p.policy)
	p.policy, p.rtPriority, p.resetOnFork = int32(policy), int32(prio), reset
	if wasRT && !rt {
		p.timerSlack = p.defaultSlack
	}
	p.mu.Unlock()
	return nil
}

// RRInterval returns sched_rr_get_interval's time slice in nanoseconds:
// Linux's default 100 ms for SCHED_RR, 0 for SCHED_FIFO, and a nominal
// 4 ms (one tick at 250 Hz, as CFS reports a lone task) for the rest.
func (t *Task) RRInterval() int64 {
	switch t.Scheduler().Policy &^ SchedResetOnFork {
	case SchedRR:
		return 100_000_000
	case SchedFIFO:
		return 0
	}
	return 4_000_000
}

// CPUMaskSize is the size in bytes of the kernel's CPU mask: enough
// 64-bit words for the sandbox's CPUs (Linux's cpumask_size()).
func (k *Kernel) CPUMaskSize() int { return (k.numCPU + 63) / 64 * 8 }

// allCPUs returns the mask of every CPU of the sandbox.
func (k *Kernel) allCPUs() []uint64 {
	m := make([]uint64, (k.numCPU+63)/64)
	for i := 0; i < k.numCPU; i++ {
		m[i/64] |= 1 << uint(i%64)
	}
	return m
}

// Affinity returns a copy of the task's CPU mask (CPUMaskSize()/8 words).
func (t *Task) Affinity() []uint64 {
	t.policy.mu.Lock()
	defer t.policy.mu.Unlock()
	if t.policy.affinity == nil {
		return t.k.allCPUs()
	}
	return append([]uint64(nil), t.policy.affinity...)
}

// SetAffinity implements sched_setaffinity on target: EPERM unless the
// caller owns the target (see sameOwner) or has CAP_SYS_NICE; the mask is
// cut to the sandbox's CPUs, and EINVAL if nothing is left.
func (t *Task) SetAffinity(target *Task, mask []uint64) error {
	if !sameOwner(t.Credentials(), target.Credentials()) && !t.Credentials().HasCapability(auth.CAP_SYS_NICE) {
		return unix.EPERM
	}
	all := t.k.allCPUs()
	n := make([]uint64, len(all))
	any := false
	for i := range n {
		if i < len(mask) {
			n[i] = mask[i] & all[i]
		}
		any = any || n[i] != 0
	}
	if !any {
		return unix.EINVAL
	}
	target.policy.mu.Lock()
	target.policy.affinity = n
	target.policy.mu.Unlock()
	return nil
}

// CurrentCPU returns the CPU getcpu reports: the lowest CPU the task's
// affinity allows, so that the answer always lies in the mask.
func (t *Task) CurrentCPU() int {
	for i, w := range t.Affinity() {
		for b := 0; b < 64; b++ {
			if w&(1<<uint(b)) != 0 {
				return i*64 + b
			}
		}
	}
	return 0
}

// ClearChildTID returns the set_tid_address / CLONE_CHILD_CLEARTID address,
// for prctl(PR_GET_TID_ADDRESS). Only the task goroutine calls it.
func (t *Task) ClearChildTID() uint64 { return t.clearChildTID }

// AddrNoRandomize is personality(2)'s ADDR_NO_RANDOMIZE flag: execve
// then places the program without randomisation (debuggers set it).
const AddrNoRandomize = 0x0040000

// Personality returns personality(2)'s value.
func (t *Task) Personality() uint32 { return t.policy.personality.Load() }

// SetPersonality implements personality(2): it records p (Linux accepts
// any value) and returns the previous one. Children inherit it.
func (t *Task) SetPersonality(p uint32) uint32 { return t.policy.personality.Swap(p) }
