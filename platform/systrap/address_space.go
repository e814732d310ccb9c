//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// addressSpace is a stub process. Its main thread serves requests (mmap,
// munmap, thread clone) from the region's request page; application threads
// run in the other threads, one per (context, address space) pair.
type addressSpace struct {
	p   *Platform
	pid int32 // immutable
	r   *region

	// released is set by Release; contexts then forget their threads here
	// without touching the region.
	released atomic.Bool
	// stopping is set while stopOthers keeps the threads out of
	// application code (stop.go); stopMu serialises stops, and Switch
	// waits for one to end by taking it for reading. Lock order: the
	// memory manager's lock, then stopMu, then Platform.ctxMu.
	stopping atomic.Int32
	stopMu   sync.RWMutex

	// mu serialises requests and protects slots and reaped.
	mu sync.Mutex
	// reaped is set once the stub has been waited for: its pid may be
	// reused and must not be signalled or waited for again.
	reaped bool
	// slots says which thread slots are in use (slotUsed), free, held by
	// a thread told to exit (slotExiting: free once its state word is 0),
	// or set aside for a task that has not run yet (slotReserved; see
	// ReserveThread).
	slots [maxThreads + 1]uint8
	hint  int
	// top is the highest slot that ever left slotFree (allocSlotLocked
	// is the only way out): the slots above it are free, and the scans
	// of the slots (a thread's clone looks at them) stop there.
	top int
	// idle are host threads whose task exited, parked in the handler (or
	// the patch trampoline) in slots marked slotIdle, at most maxIdle: a
	// new thread takes one of them (one wake-up) instead of a clone
	// request to the server, the host clone and the new thread's set-up
	// (with their wake-ups), and keeps its spin policies
	// (thread.recycled). bench thread_create_join: 390-450 us a thread
	// before, 95-115 after (native 39-46).
	idle []*thread

	// patch is the syscall patching state, nil if patching is off. Set
	// once by SetTextAccess before the address space runs anything.
	patch *patcher

	// live are the host threads made in the stub (application threads)
	// not known to be gone, for recycle, which may reuse the stub only
	// once each is; noteThreadLocked drops the gone ones when the list
	// reaches liveCap. Protected by mu until Release, then owned by
	// recycle.
	live    []int32
	liveCap int
	// tids[i] is the host thread last cloned into slot i (0: none yet),
	// for Release, which keeps one parked thread for the stub's next
	// address space (see keeperLocked). Protected by mu.
	tids []int32
}

const (
	slotFree = iota
	slotUsed
	slotExiting
	slotReserved
	slotIdle
)

// maxIdle bounds the idle threads an address space keeps (a program whose
// thread pool shrank gives the rest back to the host), and
// maxIdlePlatform those of all address spaces: they are host threads,
// which a container's host pids.max counts (runsc/cgroup.HostPidsLimit
// leaves 128 threads of room above the sandbox's own).
const (
	maxIdle         = 8
	maxIdlePlatform = 32
)

// pushIdleLocked keeps t, parked, as an idle thread of as, unless as or
// the platform has as many as they keep; it reports whether it did.
//
// Preconditions: as.mu is locked; as is not released.
func (as *addressSpace) pushIdleLocked(t *thread) bool {
	p := as.p
	if len(as.idle) >= maxIdle {
		return false
	}
	if p.idleThreads.Add(1) > p.idleCap {
		p.idleThreads.Add(-1)
		return false
	}
	as.slots[t.slot] = slotIdle
	as.idle = append(as.idle, t)
	return true
}

// popIdleLocked takes an idle thread of as, or returns nil.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) popIdleLocked() *thread {
	n := len(as.idle)
	if n == 0 {
		return nil
	}
	t := as.idle[n-1]
	as.idle = as.idle[:n-1]
	as.p.idleThreads.Add(-1)
	return t
}

// exitLocked tells t to exit; its slot is free once it is gone.
//
// Preconditions: as.mu is locked; as is not released.
func (as *addressSpace) exitLocked(t *thread) { as.exitSlotLocked(t.slot) }

// exitSlotLocked tells the thread of slot i, parked in its handler, to
// exit, and marks the slot as held until it is gone.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) exitSlotLocked(i int) {
	w := word(as.r.mem, i*slotSize+tState)
	swap(w, stExit)
	futexWake(w)
	as.slots[i] = slotExiting
}

var (
	_ platform.AddressSpace   = (*addressSpace)(nil)
	_ platform.ThreadReserver = (*addressSpace)(nil)
	_ platform.Protector      = (*addressSpace)(nil)
)

// LosePatchTable implements the memory manager's patchTable: application
// memory mapped over the pointer table ends syscall patching in this
// address space, and the memory manager undoes the patches (UnpatchText)
// the first time, before the mapping.
func (as *addressSpace) LosePatchTable(addr, length uint64) bool {
	pt := as.patch
	return pt != nil && overlapsPtrTable(addr, length) && !pt.lost.Swap(true)
}

// MapFile implements platform.AddressSpace.MapFile: the stub's server
// thread runs mmap(addr, length, prot, MAP_SHARED|MAP_FIXED, memFD, off).
func (as *addressSpace) MapFile(addr uint64, fd int, off, length uint64, at usermem.AccessType) error {
	if !as.mmapOK(addr, fd, off, length) {
		return unix.EINVAL
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Load() {
		return fmt.Errorf("address space released: %w", platform.ErrContextDead)
	}
	args := mmapArgs(addr, fd, off, length, at)
	ret, err := as.r.call(as.pid, &as.reaped, unix.SYS_MMAP, 0, args[:]...)
	if err == nil && ret != addr {
		err = fmt.Errorf("mmap returned %#x, want %#x", ret, addr)
	}
	return err
}

// mmapOK reports whether the server may map [off, off+length) of fd at
// addr: only the memory file, page-aligned, in the application's range.
func (as *addressSpace) mmapOK(addr uint64, fd int, off, length uint64) bool {
	return fd == as.p.memFD && inUserRange(addr, length) && off%pageSize == 0
}

// mmapArgs are the server's mmap arguments for MapFile, the only mmap the
// stub's filter lets it make (shared, fixed, of the memory file; a batch
// may add MAP_POPULATE).
func mmapArgs(addr uint64, fd int, off, length uint64, at usermem.AccessType) [6]uint64 {
	return [6]uint64{addr, length, uint64(at.Prot()), unix.MAP_SHARED | unix.MAP_FIXED, uint64(fd), off}
}

// A batch fits in the request page.
var _ [pageSize - rBatch - platform.MaxBatch*batchEntry]struct{}

// MapFiles implements platform.MapBatcher: the stub's server runs the
// mmap and munmap calls of ms in one request.
func (as *addressSpace) MapFiles(ms []platform.Mapping) error {
	if len(ms) > platform.MaxBatch {
		return unix.EINVAL
	}
	for i := range ms {
		m := &ms[i]
		if !inUserRange(m.Addr, m.Length) || (m.Access.Any() && !as.mmapOK(m.Addr, m.FD, m.Off, m.Length)) {
			return unix.EINVAL
		}
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Load() {
		return fmt.Errorf("address space released: %w", platform.ErrContextDead)
	}
	return as.batchLocked(ms)
}

// batchLocked has the server run the mmap and munmap calls of ms (at most
// platform.MaxBatch, checked) in one request.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) batchLocked(ms []platform.Mapping) error {
	le := binary.LittleEndian
	for i := range ms {
		m := &ms[i]
		e := as.r.mem[rBatch+i*batchEntry : rBatch+(i+1)*batchEntry]
		nr, args := uint64(unix.SYS_MUNMAP), [6]uint64{m.Addr, m.Length}
		if m.Access.Any() {
			nr, args = unix.SYS_MMAP, mmapArgs(m.Addr, m.FD, m.Off, m.Length, m.Access)
			if m.Populate {
				args[3] |= unix.MAP_POPULATE
			}
		}
		le.PutUint64(e, nr)
		for j, a := range args {
			le.PutUint64(e[8+8*j:], a)
		}
	}
	_, err := as.r.call(as.pid, &as.reaped, nrBatch, uint64(len(ms)))
	return err
}

// Unmap implements platform.AddressSpace.Unmap.
//
// Syscall patching's views (the Go view and the pointer table), which the
// stub maps at its set-up inside the application range, stay while the
// address space has them: no application memory is there (mapping some
// would have taken them, LosePatchTable), so an munmap(2) of a range
// around them, which Linux answers without unmapping anything there, must
// not take them from the process's patched sites, nor from the next
// address space the stub serves (recyclableLocked: such a stub used to
// come back without them, and every patched syscall of the next process
// failed).
func (as *addressSpace) Unmap(addr, length uint64) error {
	if !inUserRange(addr, length) {
		return unix.EINVAL
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Load() {
		return fmt.Errorf("address space released: %w", platform.ErrContextDead)
	}
	if as.hasViews() && overlapsPtrTable(addr, length) {
		var ms [3]platform.Mapping
		return as.batchLocked(aroundViews(ms[:0], addr, addr+length))
	}
	_, err := as.r.call(as.pid, &as.reaped, unix.SYS_MUNMAP, 0, addr, length)
	return err
}

// hasViews reports whether the stub maps syscall patching's views: with
// patching on, until application memory takes their place.
func (as *addressSpace) hasViews() bool {
	return as.p.patch && (as.patch == nil || !as.patch.lost.Load())
}

// aroundViews appends to ms the parts of [start, end) outside syscall
// patching's views, as mappings without access (unmaps), and returns it.
func aroundViews(ms []platform.Mapping, start, end uint64) []platform.Mapping {
	for _, v := range [2][2]uint64{{goViewAddr, goViewAddr + pageSize}, {ptrTableAddr, ptrTableEnd}} {
		if start < min(v[0], end) {
			ms = append(ms, platform.Mapping{Addr: start, Length: min(v[0], end) - start})
		}
		start = max(start, v[1])
	}
	if start < end {
		ms = append(ms, platform.Mapping{Addr: start, Length: end - start})
	}
	return ms
}

// Protect implements platform.Protector: the stub's server thread runs
// mprotect(addr, length, prot), which its filter allows with read, write
// and execute bits only.
func (as *addressSpace) Protect(addr, length uint64, at usermem.AccessType) error {
	if !inUserRange(addr, length) || addr%pageSize != 0 || length%pageSize != 0 {
		return unix.EINVAL
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Load() {
		return fmt.Errorf("address space released: %w", platform.ErrContextDead)
	}
	_, err := as.r.call(as.pid, &as.reaped, unix.SYS_MPROTECT, 0, addr, length, uint64(at.Prot()))
	return err
}

// HostPID implements platform.HostProcess.
func (as *addressSpace) HostPID() int { return int(as.pid) }

// Release implements platform.AddressSpace.Release. Its threads are told
// to exit, but one parked thread that the next address space can use
// (keeperLocked), and its stub becomes a spare for a next address space
// once it is clean (recycle, in the background), or, where that cannot be
// made safe, the stub is killed and reaped (its threads with it) and its
// region freed.
func (as *addressSpace) Release() {
	as.mu.Lock()
	if as.released.Swap(true) {
		as.mu.Unlock()
		return
	}
	as.p.idleThreads.Add(-int32(len(as.idle)))
	as.idle = nil
	reuse := !as.reaped && as.recyclableLocked()
	k := keeper{}
	if reuse {
		k = as.keeperLocked()
		as.exitAllLocked(k.slot)
	}
	as.mu.Unlock()
	p := as.p
	if reuse {
		p.spareMu.Lock()
		reuse = !p.spareOff
		if reuse {
			p.spareWG.Add(1)
			p.recycling++
		}
		p.spareMu.Unlock()
	}
	if !reuse {
		if k.slot != 0 {
			p.idleThreads.Add(-1)
		}
		as.kill()
		return
	}
	go p.recycle(as, k)
}

// keeper is the thread Release keeps for the stub's next address space:
// its slot (0: none) and host thread.
type keeper struct {
	slot int
	tid  int32
}

// keeperLocked picks the thread of a released address space to keep for
// the stub's next one, if the platform keeps another idle thread
// (maxIdlePlatform, counted from here): one that the sentry made and that
// is parked, idle or last used by a task. A fork or exec then finds a
// thread in the new address space, where it paid a clone request, the
// host clone, the new thread's set-up (its thread filter's compilation)
// and, at the previous process's exit, the thread's exit (the filter's
// release): about 150 us and 400 us of host time here.
//
// Its state word, which the application can write, is only a hint: the
// thread is reset and must show the kernel's frame of a reset thread
// before it is used (keepThread).
//
// Preconditions: as.mu is locked; as is released.
func (as *addressSpace) keeperLocked() keeper {
	p := as.p
	for i := 1; i <= as.top && i < len(as.tids); i++ {
		switch as.slots[i] {
		case slotUsed, slotIdle, slotReserved:
		default:
			continue
		}
		if as.tids[i] == 0 || load(word(as.r.mem, i*slotSize+tState)) != stEvent {
			continue
		}
		if p.idleThreads.Add(1) > p.idleCap {
			p.idleThreads.Add(-1)
			return keeper{}
		}
		return keeper{slot: i, tid: as.tids[i]}
	}
	return keeper{}
}

// setTIDLocked records tid as the host thread of slot.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) setTIDLocked(slot int, tid int32) {
	if slot >= len(as.tids) {
		as.tids = append(as.tids, make([]int32, slot+1-len(as.tids))...)
	}
	as.tids[slot] = tid
}

// kill kills and reaps the stub (its threads with it) and frees its
// region. as is released, or a spare no one else holds.
func (as *addressSpace) kill() {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.released.Store(true)
	as.p.idleThreads.Add(-int32(len(as.idle)))
	as.idle = nil
	if !as.reaped {
		unix.Kill(int(as.pid), unix.SIGKILL)
		var ws unix.WaitStatus
		wait4(as.pid, &ws, 0)
		as.reaped = true
	}
	as.p.freeRegion(as.r)
}

// recyclableLocked reports whether the stub can serve a next address space
// once its threads are gone and its memory is unmapped: with syscall
// patching, only if the application never mapped over the pointer table
// or the Go view (which the stub maps once, at its set-up).
//
// Preconditions: as.mu is locked.
func (as *addressSpace) recyclableLocked() bool {
	return !as.p.patch || (as.patch != nil && !as.patch.lost.Load())
}

// exitAllLocked tells every application thread of the stub but that of
// slot keep (0: none) to exit, whoever holds it: idle, reserved with an
// idle thread, or held by a context, which forgets it (as is released).
//
// Preconditions: as.mu is locked; as is released.
func (as *addressSpace) exitAllLocked(keep int) {
	for i := 1; i <= as.top; i++ {
		switch as.slots[i] {
		case slotUsed, slotIdle, slotReserved:
			if i != keep {
				as.exitSlotLocked(i)
			}
		}
	}
}

// noteThreadLocked records tid, a new host thread of the stub, in as.live,
// first dropping the threads known gone when the list is full.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) noteThreadLocked(tid int32) {
	if len(as.live) >= max(as.liveCap, liveMin) {
		n := 0
		for _, t := range as.live {
			if tgkill(as.pid, t, 0) != unix.ESRCH {
				as.live[n] = t
				n++
			}
		}
		as.live = as.live[:n]
		as.liveCap = 2 * n
	}
	as.live = append(as.live, tid)
}

// liveMin is the smallest liveCap: a list that short is never pruned.
const liveMin = 64

// drain waits, up to drainWait, until every application thread of as,
// released, but keep (0: none) has left the stub (a thread told to exit
// does so within microseconds unless the host is very busy). The host
// says when a thread is gone: its state word, which the application can
// write, does not. It reports false if one is still there or the stub
// died (then reaped).
func (as *addressSpace) drain(keep int32) bool {
	deadline := time.Now().Add(drainWait)
	for _, tid := range as.live {
		if tid == keep {
			continue
		}
		for tgkill(as.pid, tid, 0) != unix.ESRCH {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(drainPoll)
		}
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if reapIfDead(as.pid) {
		as.reaped = true
		return false
	}
	return true
}

const (
	drainWait = 20 * time.Millisecond
	drainPoll = 20 * time.Microsecond
)

// scrub leaves the stub of as, released and drained, as a new one is: it
// unmaps the application's range (all of it but syscall patching's views,
// which every stub maps at its set-up) in one request, and zeroes its
// region but the words the server and the sentry keep across requests
// (the request sequence number, which the server compares with the last
// one it answered, and the response page's sequence, sleep flags) and the
// slot keep (0: none) of the thread kept for the next address space,
// which zeroes its own (keepThread). Nothing the application wrote, in its
// memory or its region, reaches the next one.
func (as *addressSpace) scrub(keep int) bool {
	var buf [3]platform.Mapping
	ms := append(buf[:0], platform.Mapping{Addr: minUserAddress, Length: maxUserAddress - minUserAddress})
	if as.p.patch {
		ms = aroundViews(buf[:0], minUserAddress, maxUserAddress)
	}
	as.mu.Lock()
	err := as.batchLocked(ms)
	as.mu.Unlock()
	if err != nil {
		return false
	}
	r := as.r
	punch := func(from, to uint64) bool {
		return from == to || unix.Fallocate(as.p.sharedFD, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(r.off+from), int64(to-from)) == nil
	}
	if keep == 0 {
		if !punch(2*pageSize, regionSize) {
			return false
		}
	} else if !punch(2*pageSize, uint64(keep)*slotSize) || !punch(uint64(keep+1)*slotSize, regionSize) {
		return false
	}
	clear(r.mem[rSeq+4 : pageSize])
	clear(r.mem[respOff+pRet : respOff+pServerSleep])
	clear(r.mem[respOff+pServerSleep+4 : 2*pageSize])
	return true
}

// keepThread resets k's thread, parked in as's stub (a spare no one else
// holds yet, its other application threads gone and its memory clean),
// and returns it as a thread of as, parked as a new thread is. Told to
// reset (stReset), the thread zeroes its slot and parks again at
// thread_park with the alternate stack, signal mask and FP state of a new
// thread (handler_reset, in stub.S). The frame of that park, which the
// kernel wrote, must show the alternate stack and mask; it is killed
// with its stub otherwise, or if it takes longer than drainWait.
//
// An interrupt signal (Interrupt's, sent while the last task ran) still
// pending when the reset unblocks it parks the thread at thread_park
// before the int3: it is let go on to the int3, up to twice.
func (as *addressSpace) keepThread(k keeper) (*thread, bool) {
	t := as.slotThread(k.slot, k.tid)
	park := as.p.base + offThreadPark
	tell := uint32(stReset)
	for try := 0; try < 3; try++ {
		swap(t.state, tell)
		futexWake(t.state)
		deadline := time.Now().Add(drainWait)
		for load(t.state) != stEvent {
			if time.Now().After(deadline) || tgkill(as.pid, t.tid, 0) == unix.ESRCH {
				return nil, false
			}
			time.Sleep(drainPoll)
		}
		if t.parked() != nil || !t.resetFrame() {
			return nil, false
		}
		switch rip := t.rip(); {
		case t.signo() == unix.SIGTRAP && rip == park+1:
			if as.p.bindIdle {
				// Its last task's thread may have bound it to a
				// CPU; t starts unbound, as a new thread does.
				unix.SchedSetaffinity(int(t.tid), &as.p.cpus)
			}
			return t, true
		case t.signo() == interruptSignal && rip == park:
			tell = stRun
		default:
			return nil, false
		}
	}
	return nil, false
}

// slotThread returns a new thread of as for host thread tid (0: not
// cloned yet) in slot, unbound, with fresh spin policies.
func (as *addressSpace) slotThread(slot int, tid int32) *thread {
	t := &thread{as: as, tid: tid, slot: slot, cpu: noCPU, page: as.r.mem[slot*slotSize : (slot+1)*slotSize]}
	t.state = word(t.page, tState)
	t.sentrySleep = word(t.page, tSentrySleep)
	t.stubSleep = word(t.page, tStubSleep)
	return t
}

// resetFrame reports whether the parked frame is one of a reset thread:
// at the kernel's delivery the thread's alternate stack was its slot's,
// its signal mask empty and its stack pointer handler_reset's.
func (t *thread) resetFrame() bool {
	le := binary.LittleEndian
	uc := t.page[t.uctx:]
	base := t.stubAddr()
	return le.Uint64(uc[ucStack:]) == base+pageSize &&
		le.Uint32(uc[ucStack+8:]) == 0 &&
		le.Uint64(uc[ucStack+16:]) == slotSize-pageSize &&
		le.Uint64(uc[ucSigmask:]) == 0 &&
		le.Uint64(t.sigcontext()[15*8:]) == base+tResetSP
}

// newThread creates an application thread in the stub and returns it once
// it is parked in the handler. It takes the slot of res if res is not nil
// (a reservation of as, bound to the calling context), else a free slot.
func (as *addressSpace) newThread(res *reservation) (*thread, error) {
	as.mu.Lock()
	if as.released.Load() {
		as.mu.Unlock()
		return nil, platform.ErrContextDead
	}
	slot, idle := -1, (*thread)(nil)
	if res != nil {
		slot, res.slot = res.slot, 0
		idle, res.idle = res.idle, nil
	}
	if idle == nil && slot <= 0 {
		idle = as.popIdleLocked()
	}
	if idle != nil {
		as.slots[idle.slot] = slotUsed
		as.mu.Unlock()
		return idle, nil
	}
	if slot <= 0 {
		slot = as.allocSlotLocked()
	}
	if slot < 0 {
		as.mu.Unlock()
		return nil, fmt.Errorf("more than %d threads in one address space: %w", maxThreads, unix.EAGAIN)
	}
	as.slots[slot] = slotUsed
	t := as.slotThread(slot, 0)
	clear(t.page[:tCRegsEnd])
	stubSlot := as.p.regionAddr + uint64(slot)*slotSize
	binary.LittleEndian.PutUint64(t.page[tSelf:], stubSlot)
	binary.LittleEndian.PutUint64(t.page[tMagic:], as.p.magic)
	binary.LittleEndian.PutUint64(t.page[tFSCur:], baseUnknown)
	binary.LittleEndian.PutUint64(t.page[tGSCur:], baseUnknown)
	// The thread runs as soon as it is set up: while a spinning slot is
	// free, the sentry spins for its set-up and it spins for its first
	// hand-off (T_SPIN), up to serverSpin each, as for a server request:
	// two wake-ups less per thread.
	var spin int64
	if as.p.mayGrantSpin() {
		spin = as.p.serverSpin
		*word(t.page, tSpin) = uint32(spin)
	}
	tid, err := as.r.call(as.pid, &as.reaped, unix.SYS_CLONE, stubSlot, threadFlags, 0, 0, stubSlot+tState, 0)
	if err != nil {
		as.slots[slot] = slotFree
		as.mu.Unlock()
		return nil, fmt.Errorf("cloning a stub thread: %w", err)
	}
	as.noteThreadLocked(int32(tid))
	as.setTIDLocked(slot, int32(tid))
	as.mu.Unlock()
	t.tid = int32(tid)
	// The thread parks with an int3 at thread_park once its set-up is
	// done (a trap: the frame's rip is after it).
	if _, ok := as.p.spinThenSleep(t.state, stNone, t.sentrySleep, arch.Rdtsc(), spin, as.pid, t.tid, nil, nil); !ok || load(t.state) != stEvent {
		t.release()
		return nil, fmt.Errorf("stub thread %d died during set-up: %w", t.tid, platform.ErrContextDead)
	}
	if err := t.parked(); err != nil {
		t.release()
		return nil, err
	}
	if s := t.signo(); s != unix.SIGTRAP || t.rip() != as.p.base+offThreadPark+1 {
		t.release()
		return nil, fmt.Errorf("stub thread %d: set-up failed (signal %d at %#x): %w", t.tid, s, t.rip(), platform.ErrContextDead)
	}
	return t, nil
}

// ReserveThread implements platform.ThreadReserver.ReserveThread: it sets
// a slot aside (slotReserved) for the new task's thread. Slots of threads
// told to exit count as taken until their host thread is gone; if only
// such slots are left, it waits a little for one of them (a thread told
// to exit leaves within microseconds unless the host is very busy).
//
// The wait polls: it must not sleep on the exiting slot's state word,
// whose futex wake-ups are wake-one and meant for the slot's next thread
// as soon as the slot is reused (a sleeper here would swallow the
// sentry's wake-up of that thread, which would then sleep for ever).
func (as *addressSpace) ReserveThread() (platform.ThreadReservation, error) {
	for try := 0; ; try++ {
		as.mu.Lock()
		if as.released.Load() {
			as.mu.Unlock()
			return nil, platform.ErrContextDead
		}
		if t := as.popIdleLocked(); t != nil {
			as.slots[t.slot] = slotReserved
			as.mu.Unlock()
			return &reservation{as: as, slot: t.slot, idle: t}, nil
		}
		if slot := as.allocSlotLocked(); slot > 0 {
			as.slots[slot] = slotReserved
			as.mu.Unlock()
			return &reservation{as: as, slot: slot}, nil
		}
		exiting := as.hasExitingLocked()
		as.mu.Unlock()
		if !exiting || try == reserveTries {
			return nil, fmt.Errorf("more than %d threads in one address space: %w", maxThreads, unix.EAGAIN)
		}
		time.Sleep(reservePoll)
	}
}

const (
	// reserveTries and reservePoll bound ReserveThread's wait for an
	// exiting thread: at most reserveTries polls reservePoll apart.
	reserveTries = 20
	reservePoll  = time.Millisecond
)

// threads is the number of slots held by a thread, live, exiting, idle or
// reserved, but those in state except (slotFree: none).
func (as *addressSpace) threads(except uint8) int {
	as.mu.Lock()
	defer as.mu.Unlock()
	n := 0
	for i := 1; i <= as.top; i++ {
		if s := as.slots[i]; s != slotFree && s != except {
			n++
		}
	}
	return n
}

// hasExitingLocked reports whether a slot's thread was told to exit but
// has not gone yet.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) hasExitingLocked() bool {
	for i := 1; i <= as.top; i++ {
		if as.slots[i] == slotExiting {
			return true
		}
	}
	return false
}

// reservation is a platform.ThreadReservation: a slot in slotReserved
// state, until a context's first thread in as takes it or it is released.
type reservation struct {
	as *addressSpace
	// slot is the reserved slot, 0 once taken or released; idle is the
	// idle thread parked in it, if any. Both are protected by as.mu.
	slot int
	idle *thread
}

// Bind implements platform.ThreadReservation.Bind.
func (r *reservation) Bind(pc platform.Context) {
	c, ok := pc.(*context)
	if !ok || c.p != r.as.p {
		r.Release()
		return
	}
	if old := c.res; old != nil {
		old.Release()
	}
	c.res = r
}

// Release implements platform.ThreadReservation.Release.
func (r *reservation) Release() {
	as := r.as
	as.mu.Lock()
	defer as.mu.Unlock()
	if r.slot != 0 && !as.released.Load() {
		as.slots[r.slot] = slotFree
		if r.idle != nil && !as.pushIdleLocked(r.idle) {
			as.exitLocked(r.idle)
		}
	}
	r.slot, r.idle = 0, nil
}

// allocSlotLocked returns a free thread slot, or -1.
//
// Preconditions: as.mu is locked.
func (as *addressSpace) allocSlotLocked() int {
	for n := 0; n < maxThreads; n++ {
		i := 1 + (as.hint+n)%maxThreads
		switch as.slots[i] {
		case slotExiting:
			if load(word(as.r.mem, i*slotSize+tState)) != stNone {
				continue
			}
			fallthrough
		case slotFree:
			as.slots[i] = slotUsed
			as.hint = i
			as.top = max(as.top, i)
			return i
		}
	}
	return -1
}

// inUserRange reports whether [addr, addr+length) is a non-empty,
// page-aligned range of the application's part of the address space.
func inUserRange(addr, length uint64) bool {
	return addr%pageSize == 0 && length%pageSize == 0 && length != 0 &&
		addr >= minUserAddress && addr+length > addr && addr+length <= maxUserAddress
}
