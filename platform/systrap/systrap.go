//go:build linux && amd64

// Package systrap implements platform.Platform without a ptrace stop per
// system call: application threads run in stub processes under a seccomp
// filter whose action for application syscalls is SECCOMP_RET_TRAP. The
// resulting SIGSYS, like a fault's signal, runs the stub's handler on an
// alternate stack in memory shared with the sentry; the handler publishes
// the signal frame, wakes the sentry with a futex and waits for it to edit
// the frame's registers and FP state, then returns through rt_sigreturn.
// mmap/munmap of the memory file and thread creation are requests served
// by each stub's main thread from a shared page. ptrace is used only to set
// up the pre-made stub, once. See README.md for the design.
//
// Lock order: addressSpace.mu, then Platform.premadeMu, then
// Platform.regionsMu.
package systrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
)

// Options tune the platform.
type Options struct {
	// Spin chooses how the two sides of a hand-off between a task and its
	// application thread wait for each other. 0, the default, spins
	// adaptively: only while spinning pays, bounded by the recent answer
	// times and by the CPUs free (see wait.go); an idle thread never
	// spins. Negative never spins and binds each application thread to
	// its sentry thread's CPU (for experiments on loaded hosts). Positive
	// always spins that many nanoseconds before sleeping, on both sides.
	Spin int

	// Patch enables syscall patching (patch.go): a "mov $NR, %eax;
	// syscall" in application text that traps is rewritten into a jump to
	// a trampoline that enters the sentry without a signal.
	Patch bool

	// noFSGS makes the stub set the fs and gs bases with arch_prctl, as
	// it does on hosts without FSGSBASE, on a host that has it (tests).
	noFSGS bool
}

// Platform is the systrap platform.
type Platform struct {
	memFD    int
	sharedFD int

	// serverSpin is serverSpinUS in TSC ticks; fixedSpin is Options.Spin
	// in ticks (0: adaptive, that is hot threads only; negative: never
	// spin). bindIdle says whether threads that do not spin follow their
	// sentry thread's CPU. cpus is the sentry's CPU set (where an unbound
	// thread may run) and maxSpinners the most threads that may spin at
	// once. All immutable.
	fixedSpin, serverSpin int64
	// hotEnter, hotCap and hotLease are hotEnterUS, hotCapUS and
	// hotLeaseUS in TSC ticks; perUS is ticks per microsecond.
	hotEnter, hotCap, hotLease, perUS int64
	bindIdle                          bool
	cpus                              unix.CPUSet
	maxSpinners                       int32

	// spinners counts the sentry threads spinning outside a hot lease
	// (spinThenSleep).
	spinners atomic.Int32
	// hot holds the leases of the hot threads (wait.go), maxSpinners of
	// them. The slice is immutable.
	hot []hotSlot
	// ncpus is spinCPUs() and loadFD procLoadavg() (immutable); others
	// is sampleLoad's estimate of the other threads that want a CPU (in
	// others1), due for a refresh when the TSC passes loadNext.
	ncpus    int
	loadFD   int
	others   atomic.Int64
	loadNext atomic.Int64
	// patch says whether syscall patching is on; patchEager makes it
	// patch a site at its first trap rather than its second (the
	// patcher's tests, which look at one trap's work). Immutable once an
	// address space exists.
	patch, patchEager bool

	// base is the stub image's address and regionAddr that of every
	// address space's region, in the stubs. Immutable.
	base       uint64
	regionAddr uint64
	// magic is the stub's magic (dMagic, tMagic; see patch_entry);
	// noFSGS says whether the stub sets the bases with arch_prctl
	// (dNoFSGS). Immutable.
	magic  uint64
	noFSGS bool

	// premadePID is the pre-made stub, serving requests on premade.
	premadePID int32
	premade    *region
	// premadeMu serialises requests to the pre-made stub and protects
	// premadeReaped, set once it has died and been reaped.
	premadeMu     sync.Mutex
	premadeReaped bool

	// regionsMu protects free and size.
	regionsMu sync.Mutex
	free      []*region
	size      uint64 // of the shared file

	// spareMu protects spares, spareMaking, recycling and spareOff.
	// spares are address spaces ready for NewAddressSpace, the last one
	// first, at most maxSpares: made ahead of time (see makeSpare) or
	// recycled from a released one (see recycle). spareMaking says that a
	// goroutine is making one; recycling counts the recycles under way,
	// each a spare to come; spareOff says that the sandbox is ending
	// (SandboxEnding) or Close began: none is made or kept any more. spareWG counts the goroutines that make or recycle
	// one. made counts NewAddressSpace calls.
	spareMu     sync.Mutex
	spares      []*addressSpace
	spareMaking bool
	recycling   int
	spareOff    bool
	spareWG     sync.WaitGroup
	made        atomic.Int64

	// idleThreads counts the idle threads of all address spaces, at most
	// idleCap (maxIdlePlatform; tests lower it).
	idleThreads atomic.Int32
	idleCap     int32

	// ctxs are the contexts made by NewContext and not released, for
	// stopOthers, which looks for those running an address space's
	// threads. Protected by ctxMu.
	ctxMu sync.Mutex
	ctxs  map[*context]struct{}

	closed    chan struct{}
	exited    chan struct{}
	closeOnce sync.Once
}

var _ platform.Platform = (*Platform)(nil)

// errClosed is returned for requests made after Close.
var errClosed = errors.New("systrap platform: closed")

// New starts the platform: it maps the stub image above MaxUserAddress and
// creates the pre-made stub. memFD is the memory file; it is the only
// descriptor MapFile accepts.
//
// New must run before the sentry installs its own seccomp filter and while
// it may still clone and ptrace. Where the host gives user space FSGSBASE
// (Linux ≥ 5.9 on a CPU that has it) the stub saves and restores the
// application's fs and gs bases with rdfsbase/wrfsbase; elsewhere (many
// VMs hide the feature) it sets them with arch_prctl when they change, and
// keeps the last ones the sentry set, since an application without
// FSGSBASE changes its bases only through the sentry.
func New(memFD int, opts Options) (*Platform, error) {
	if memFD < 0 {
		return nil, fmt.Errorf("systrap platform: bad memory file descriptor %d", memFD)
	}
	sfd, err := unix.MemfdCreate("rampart-systrap", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("systrap platform: memfd_create: %w", err)
	}
	p := &Platform{
		memFD:    memFD,
		sharedFD: sfd,
		bindIdle: opts.Spin <= 0,
		idleCap:  maxIdlePlatform,
		patch:    opts.Patch,
		closed:   make(chan struct{}),
		exited:   make(chan struct{}),
	}
	tsc := arch.TSCPerUS()
	p.serverSpin = serverSpinUS * tsc
	switch {
	case opts.Spin > 0:
		p.fixedSpin = max(int64(opts.Spin)*tsc/1000, 1)
	case opts.Spin < 0:
		p.fixedSpin = -1
	}
	unix.SchedGetaffinity(0, &p.cpus)
	p.ncpus = spinCPUs()
	p.maxSpinners = int32(p.ncpus / 2)
	p.hot = make([]hotSlot, p.maxSpinners)
	p.hotEnter, p.hotCap, p.hotLease, p.perUS = hotEnterUS*tsc, hotCapUS*tsc, hotLeaseUS*tsc, tsc
	p.loadFD = procLoadavg()
	p.magic, p.noFSGS = newMagic(), opts.noFSGS || !hasFSGSBASE()
	p.base, err = mapImage(func(base uint64) ([]byte, error) {
		return buildImage(base, sfd, opts.Patch, p.magic, p.noFSGS)
	})
	if err != nil {
		unix.Close(sfd)
		return nil, fmt.Errorf("systrap platform: %w", err)
	}
	p.regionAddr = p.base + regionGap
	if p.premade, err = p.allocRegion(); err != nil {
		p.unmapImage()
		unix.Close(sfd)
		return nil, fmt.Errorf("systrap platform: %w", err)
	}
	if p.patch {
		if p.premade.off != 0 {
			p.unmapImage()
			unix.Close(sfd)
			return nil, fmt.Errorf("systrap platform: the pre-made stub's region is at %#x, not 0", p.premade.off)
		}
		writePtrTable(p.premade.mem[ptrTableFileOff:ptrTableFileOff+ptrTableLen], p.base)
	}
	ready := make(chan error, 1)
	go p.keeper(ready)
	if err := <-ready; err != nil {
		<-p.exited
		p.unmapImage()
		unix.Close(sfd)
		return nil, fmt.Errorf("systrap platform: %w", err)
	}
	return p, nil
}

// keeper creates the pre-made stub and then holds its OS thread, the parent
// of every stub, until Close: the stubs' PR_SET_PDEATHSIG fires when that
// thread exits, so the sandbox's stubs never outlive the platform.
func (p *Platform) keeper(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	defer close(p.exited)
	pid, err := p.startPremade()
	if err != nil {
		ready <- err
		return
	}
	p.premadePID = pid
	ready <- nil
	<-p.closed
	p.premadeMu.Lock()
	if !p.premadeReaped {
		unix.Kill(int(pid), unix.SIGKILL)
		var ws unix.WaitStatus
		wait4(pid, &ws, 0)
		p.premadeReaped = true
	}
	p.premadeMu.Unlock()
}

// Close kills the pre-made stub. Address spaces still alive die with it
// (PR_SET_PDEATHSIG), so Close is for shutdown only.
func (p *Platform) Close() {
	p.closeOnce.Do(func() {
		p.spareMu.Lock()
		p.spareOff = true
		spares := p.spares
		p.spares = nil
		p.spareMu.Unlock()
		p.spareWG.Wait() // one in the making is killed by its maker
		for _, as := range spares {
			as.kill()
		}
		close(p.closed)
		<-p.exited
		p.unmapImage()
		unix.Close(p.sharedFD) // stubs still alive keep their copy
	})
	<-p.exited
}

func (p *Platform) unmapImage() {
	syscall.Syscall(unix.SYS_MUNMAP, uintptr(p.base), imageSize, 0)
}

// MinUserAddress implements platform.Platform.
func (*Platform) MinUserAddress() uint64 { return minUserAddress }

// MaxUserAddress implements platform.Platform.
func (*Platform) MaxUserAddress() uint64 { return maxUserAddress }

// NewAddressSpace implements platform.Platform: the pre-made stub forks a
// new stub, which maps its own region and serves its requests.
//
// From the second call on, a spare is kept ready: a sandbox that forks or
// execs once usually does again (a shell, a build), and making an address
// space costs a request to the pre-made stub, a host fork and the new
// stub's set-up before its first request, with their wake-ups, which the
// fork or exec then does not wait for. A spare is an idle stub process,
// sleeping in its server loop: one made ahead of time, or the stub of a
// released address space, cleaned (recycle).
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	select {
	case <-p.closed:
		return nil, errClosed
	default:
	}
	var as *addressSpace
	if p.made.Add(1) > 1 {
		p.spareMu.Lock()
		if n := len(p.spares); n > 0 {
			as = p.spares[n-1]
			p.spares = p.spares[:n-1]
		}
		p.spareMu.Unlock()
		p.makeSpare()
	}
	if as == nil {
		var err error
		if as, err = p.newAddressSpace(); err != nil {
			return nil, err
		}
	}
	return as, nil
}

// maxSpares bounds the spare address spaces: one made ahead of time and
// one recycled, in a sandbox that forks and reaps a process at a time.
const maxSpares = 2

// makeSpare starts making a spare address space unless there is one,
// one is being made or recycled, or Close stopped them. A recycle under
// way counts: a process that forks and execs (a shell, a build) releases
// an address space at each exec and exit, whose recycle gives the next
// fork or exec its spare; a spare made as well was one host fork of the
// pre-made stub, its set-up and, with maxSpares reached, its kill, for
// nothing. bench fork_exec_wait: a stub made and killed every two to
// three programs before, 5.1-5.4 ms a program; one in a hundred after,
// 4.0-4.5 ms.
func (p *Platform) makeSpare() {
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	if len(p.spares) > 0 || p.spareMaking || p.recycling > 0 || p.spareOff {
		return
	}
	p.spareMaking = true
	p.spareWG.Add(1)
	go func() {
		defer p.spareWG.Done()
		as, err := p.newAddressSpace()
		p.spareMu.Lock()
		p.spareMaking = false
		p.spareMu.Unlock()
		if err == nil {
			p.offerSpare(as)
		}
	}()
}

// offerSpare keeps as, a new or cleaned address space, as a spare, or
// kills it if there are enough or Close stopped them.
func (p *Platform) offerSpare(as *addressSpace) {
	p.spareMu.Lock()
	keep := !p.spareOff && len(p.spares) < maxSpares
	if keep {
		p.spares = append(p.spares, as)
	}
	p.spareMu.Unlock()
	if !keep {
		as.kill()
	}
}

// recycle makes the stub of as, released, a spare once its application
// threads but k are gone, its memory and region are clean (drain, scrub)
// and k, if any, is reset (keepThread), or kills it. A fork+exit then
// costs no host fork of the pre-made stub, no new stub's set-up (its
// mappings) and no host exit of a process (its teardown's TLB
// shoot-downs), only one munmap request; with k, no thread's clone and
// set-up in the next address space and no exit in this one.
//
// k was counted in p.idleThreads by keeperLocked: the spare's idle list
// takes it over, and kill gives it back.
func (p *Platform) recycle(as *addressSpace, k keeper) {
	defer p.spareWG.Done()
	spare := &addressSpace{p: p, pid: as.pid, r: as.r}
	var t *thread
	// Once the sandbox ends (SandboxEnding, Close), the stub is killed
	// rather than cleaned: Close waits for recycles (spareWG), and the
	// sandbox's exit waited for the scrub of its init's address space
	// (three munmaps of the whole application range and a punch).
	ok := !p.closing() && as.drain(k.tid) && !p.closing() && as.scrub(k.slot)
	if ok && k.slot != 0 {
		t, ok = spare.keepThread(k)
	}
	if !ok {
		if k.slot != 0 {
			p.idleThreads.Add(-1)
		}
		as.kill()
		p.endRecycle()
		// The spare this recycle was to give is made instead.
		p.makeSpare()
		return
	}
	if t != nil {
		// spare is not shared yet: no lock needed.
		spare.slots[k.slot] = slotIdle
		spare.idle = []*thread{t}
		spare.top, spare.hint = k.slot, k.slot
		spare.live = []int32{k.tid}
		spare.setTIDLocked(k.slot, k.tid)
	}
	p.offerSpare(spare)
	p.endRecycle()
}

// SandboxEnding implements platform.Ending: released address spaces are
// killed from now on, and a recycle under way stops before its scrub.
func (p *Platform) SandboxEnding() {
	p.spareMu.Lock()
	p.spareOff = true
	p.spareMu.Unlock()
}

// closing reports whether the sandbox is ending (SandboxEnding) or Close
// has begun.
func (p *Platform) closing() bool {
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	return p.spareOff
}

// endRecycle counts a recycle out of p.recycling, after its spare is
// offered, so that makeSpare always sees the one or the other.
func (p *Platform) endRecycle() {
	p.spareMu.Lock()
	p.recycling--
	p.spareMu.Unlock()
}

// newAddressSpace makes an address space.
func (p *Platform) newAddressSpace() (*addressSpace, error) {
	r, err := p.allocRegion()
	if err != nil {
		return nil, err
	}
	p.premadeMu.Lock()
	pid, err := p.premade.call(p.premadePID, &p.premadeReaped, unix.SYS_CLONE, r.off, forkFlags)
	p.premadeMu.Unlock()
	if err != nil {
		p.freeRegion(r)
		return nil, fmt.Errorf("forking the pre-made stub: %w", err)
	}
	return &addressSpace{p: p, pid: int32(pid), r: r}, nil
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() platform.Context {
	c := &context{p: p, threads: make(map[*addressSpace]*thread)}
	p.ctxMu.Lock()
	if p.ctxs == nil {
		p.ctxs = make(map[*context]struct{})
	}
	p.ctxs[c] = struct{}{}
	p.ctxMu.Unlock()
	return c
}

// region is one address space's slice of the shared file: the request and
// response pages and the thread slots (see layout.go).
type region struct {
	p   *Platform
	off uint64 // in the shared file
	mem []byte // the sentry's mapping
	// cpu is where the server thread is bound; it is owned by call's
	// caller.
	cpu boundCPU
}

// serverSpinUS is, under forced spinning, the bound of the sentry's spin
// for a server's reply (a host mmap, munmap or clone: a few µs) and the
// server's own spin for the next request after each one. It also bounds
// the spins around a new thread's set-up (newThread).
const serverSpinUS = 50

// allocRegion returns a zeroed region, growing the shared file if needed.
func (p *Platform) allocRegion() (*region, error) {
	p.regionsMu.Lock()
	defer p.regionsMu.Unlock()
	if n := len(p.free); n > 0 {
		r := p.free[n-1]
		p.free = p.free[:n-1]
		r.cpu = noCPU
		return r, nil
	}
	off := p.size
	if err := unix.Ftruncate(p.sharedFD, int64(off+regionSize)); err != nil {
		return nil, fmt.Errorf("growing the shared file: %w", err)
	}
	mem, err := unix.Mmap(p.sharedFD, int64(off), regionSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping a region: %w", err)
	}
	p.size = off + regionSize
	return &region{p: p, off: off, mem: mem, cpu: noCPU}, nil
}

// freeRegion zeroes r (punching a hole frees its pages) for reuse. Its
// stub must be dead.
func (p *Platform) freeRegion(r *region) {
	if err := unix.Fallocate(p.sharedFD, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(r.off), regionSize); err != nil {
		clear(r.mem) // cannot happen on a memfd; stay correct anyway
	}
	p.regionsMu.Lock()
	p.free = append(p.free, r)
	p.regionsMu.Unlock()
}

// call has the server thread of stub pid, which serves r, run syscall nr
// with args (extra goes to r12, for clone children) and returns its
// result. If the stub died, call reaps it and sets *reaped. The caller
// serialises calls on r and owns *reaped.
func (r *region) call(pid int32, reaped *bool, nr uintptr, extra uint64, args ...uint64) (uint64, error) {
	le := binary.LittleEndian
	req := r.mem
	seqW := word(req, rSeq)
	seq := load(seqW) + 1
	le.PutUint64(req[rNr:], uint64(nr))
	for i := 0; i < 6; i++ {
		var a uint64
		if i < len(args) {
			a = args[i]
		}
		le.PutUint64(req[rArgs+8*i:], a)
	}
	le.PutUint64(req[rExtra:], extra)
	// A request is a hand-off on the calling thread's CPU (place): the
	// server, bound there, runs as soon as the sentry sleeps, and goes
	// back to sleep as soon as it answered, so that the sentry runs
	// there again. Under forced spinning both sides spin instead.
	spin := uint32(0)
	if r.p.fixedSpin > 0 {
		spin = uint32(r.p.serverSpin)
	} else {
		r.place(pid, nr)
	}
	if *word(req, rSpin) != spin {
		*word(req, rSpin) = spin
	}
	swap(seqW, seq)
	if load(word(req, respOff+pServerSleep)) != 0 {
		futexWake(seqW)
	}
	done := word(req, respOff+pSeq)
	if *reaped {
		return 0, fmt.Errorf("stub %d is dead: %w", pid, platform.ErrContextDead)
	}
	if !r.p.waitFor(done, seq-1, word(req, respOff+pSentrySleep), pid, 0, nil, reaped) {
		return 0, fmt.Errorf("stub %d died: %w", pid, platform.ErrContextDead)
	}
	if got := load(done); got != seq {
		return 0, fmt.Errorf("stub %d answered request %d, want %d: %w", pid, got, seq, platform.ErrContextDead)
	}
	ret := le.Uint64(req[respOff+pRet:])
	if e := int64(ret); e < 0 && e >= -4095 {
		return 0, unix.Errno(-e)
	}
	return ret, nil
}

// place binds the server thread of stub pid (its main thread: tid pid) to
// the calling thread's CPU, unless it is bound there already, or, before a
// clone, unbinds it: the child inherits the server's CPU mask, and an
// application thread or a new stub's server must be free to run anywhere.
//
// Bound, a request costs two context switches on one CPU. Unbound, a
// sleeping server was woken on the other vCPU, idle or busy with the
// application thread spinning for the sentry's answer: 15-130 µs in this
// VM (wait.go), 50 µs on average over the 6000 requests of a `python3 -c
// pass` here, whose time bound servers cut by about a fifth (805-898 ms
// to 627-705, alternated runs; fork_exit_wait 1.6-1.8 ms to 1.2-1.3).
// The server's own spin for the next request, which this replaces, took
// the CPU the sentry needed next, and the sentry's spin the one the
// server needed.
func (r *region) place(pid int32, nr uintptr) {
	if nr == unix.SYS_CLONE {
		r.cpu.unbind(pid, &r.p.cpus)
		return
	}
	r.cpu.bindHere(pid)
}

// newMagic returns a value for the stub's magic (dMagic): not a secret
// (the application can read it), only a 64-bit value that no program's
// own gs block holds at tMagic by chance.
func newMagic() uint64 {
	x := uint64(arch.Rdtsc()) + 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31 | 1
}

// hasFSGSBASE reports whether user space may use rdfsbase and friends
// (AT_HWCAP2 bit HWCAP2_FSGSBASE). It reads the auxiliary vector the Go
// runtime kept, since /proc may be out of reach (the sandbox's fence).
func hasFSGSBASE() bool {
	const atHWCAP2, hwcap2FSGSBASE = 26, 1 << 1
	auxv, err := unix.Auxv()
	if err != nil {
		return false
	}
	for _, kv := range auxv {
		if kv[0] == atHWCAP2 {
			return kv[1]&hwcap2FSGSBASE != 0
		}
	}
	return false
}

// ThreadsReusable implements platform.ReusableThreads: a context binds,
// signals and waits for stub threads only, never the calling thread.
func (p *Platform) ThreadsReusable() bool { return true }
