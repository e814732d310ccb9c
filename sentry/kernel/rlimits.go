package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// NROpen is Linux's default fs.nr_open: RLIMIT_NOFILE's hard limit may not
// exceed it, even with CAP_SYS_RESOURCE.
const NROpen = 1 << 20

// NumLimits is RLIM_NLIMITS.
const NumLimits = numLimits

// PrLimit reads and optionally replaces resource limit r of the process
// target, as Linux's prlimit64 once the target is found (do_prlimit with
// check_prlimit_permission). It returns the old limit. Errors: EPERM when
// t may not touch target's limits (see mayPrlimit), EINVAL for an unknown
// resource or a soft limit above the hard one, EPERM for an RLIMIT_NOFILE
// hard limit above NROpen or for raising a hard limit without
// CAP_SYS_RESOURCE. A new limit takes effect at once: the descriptor
// table and address space enforce RLIMIT_NOFILE, RLIMIT_AS, RLIMIT_DATA
// and RLIMIT_STACK.
func (t *Task) PrLimit(target *ThreadGroup, r uint64, newLim *unix.Rlimit) (unix.Rlimit, error) {
	if !t.mayPrlimit(target) {
		return unix.Rlimit{}, unix.EPERM
	}
	if r >= numLimits {
		return unix.Rlimit{}, unix.EINVAL
	}
	if newLim != nil {
		if newLim.Cur > newLim.Max {
			return unix.Rlimit{}, unix.EINVAL
		}
		if r == unix.RLIMIT_NOFILE && newLim.Max > NROpen {
			return unix.Rlimit{}, unix.EPERM
		}
	}
	l := target.limits
	l.mu.Lock()
	old := l.l[r]
	if newLim != nil {
		if newLim.Max > old.Max && !t.Credentials().HasCapability(auth.CAP_SYS_RESOURCE) {
			l.mu.Unlock()
			return unix.Rlimit{}, unix.EPERM
		}
		l.setLocked(int(r), *newLim)
	}
	l.mu.Unlock()
	if newLim != nil {
		target.applyLimit(int(r), newLim.Cur)
	}
	return old, nil
}

// applyLimit pushes a new soft limit to the objects that enforce it.
func (tg *ThreadGroup) applyLimit(r int, cur uint64) {
	switch r {
	case unix.RLIMIT_NOFILE, unix.RLIMIT_AS, unix.RLIMIT_DATA, unix.RLIMIT_STACK:
	default:
		return
	}
	k := tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	for o := range tg.tasks {
		switch r {
		case unix.RLIMIT_NOFILE:
			if o.fds != nil {
				o.fds.SetLimit(cur)
			}
		case unix.RLIMIT_AS:
			if o.mm != nil {
				o.mm.SetAddressSpaceLimit(cur)
			}
		case unix.RLIMIT_DATA:
			if o.mm != nil {
				o.mm.SetDataLimit(cur)
			}
		case unix.RLIMIT_STACK:
			if o.mm != nil {
				o.mm.SetStackLimit(cur)
			}
		}
	}
}

// applyMMLimits gives m the address-space limits of t's process, for an
// address space that execve just made.
func (t *Task) applyMMLimits(m *mm.MemoryManager) {
	if m == nil {
		return
	}
	l := t.tg.limits
	m.SetAddressSpaceLimit(l.Get(unix.RLIMIT_AS).Cur)
	m.SetDataLimit(l.Get(unix.RLIMIT_DATA).Cur)
}

// FileSizeLimit implements vfs.FileSizeLimiter: the task's RLIMIT_FSIZE
// soft limit.
func (t *Task) FileSizeLimit() uint64 { return t.tg.limits.FileSize() }

// FileSizeExceeded implements vfs.FileSizeLimiter: SIGXFSZ to the task, as
// Linux's send_sig(SIGXFSZ, current, 0) (si_code SI_USER, from itself).
func (t *Task) FileSizeExceeded() {
	info := userSignalInfo(int(unix.SIGXFSZ), abi.SI_USER, t)
	t.k.SendSignalToTask(t, &info)
}
