package vdso

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// Layout of struct vdso_params (vdso_params.h); the two must agree, which
// TestCHarness checks.
const (
	offSeq        = 0
	offFlags      = 4
	offTSCBase    = 8
	offMult       = 16
	offShift      = 24
	offClockMask  = 28
	offCoarseRes  = 32
	offNCPUs      = 40
	offGetcpuMode = 44
	offBaseNS     = 48
	numClocks     = 16
	paramsSize    = offBaseNS + 8*numClocks

	flagTSC = 1

	getcpuZero   = 0
	getcpuRDPID  = 1
	getcpuRDTSCP = 2
)

// Clock ids (clock_gettime(2)).
const (
	clockRealtime       = 0
	clockMonotonic      = 1
	clockMonotonicRaw   = 4
	clockRealtimeCoarse = 5
	clockMonotonicCoar  = 6
	clockBoottime       = 7
)

// servedClocks are the clocks the vDSO computes itself.
var servedClocks = [...]int{clockRealtime, clockMonotonic, clockMonotonicRaw, clockRealtimeCoarse, clockMonotonicCoar, clockBoottime}

// params is the sentry's view of the parameter page. The page is shared
// with application processes, so every access is atomic; the seqlock
// protocol (seq odd while writing) makes a reader's snapshot consistent.
type params struct {
	page unsafe.Pointer // 8-byte aligned, at least paramsSize bytes
}

func (p params) u32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(p.page, off)) }
func (p params) u64(off uintptr) *uint64 { return (*uint64)(unsafe.Add(p.page, off)) }

// snapshot is the content of the page, outside the seqlock.
type snapshot struct {
	flags      uint32
	tscBase    uint64
	mult       uint64
	shift      uint32
	clockMask  uint32
	coarseRes  uint64
	ncpus      uint32
	getcpuMode uint32
	baseNS     [numClocks]uint64
}

// write publishes s. Callers serialise writers.
func (p params) write(s *snapshot) {
	seq := atomic.LoadUint32(p.u32(offSeq))
	atomic.StoreUint32(p.u32(offSeq), seq+1) // odd: readers retry
	atomic.StoreUint32(p.u32(offFlags), s.flags)
	atomic.StoreUint64(p.u64(offTSCBase), s.tscBase)
	atomic.StoreUint64(p.u64(offMult), s.mult)
	atomic.StoreUint32(p.u32(offShift), s.shift)
	atomic.StoreUint32(p.u32(offClockMask), s.clockMask)
	atomic.StoreUint64(p.u64(offCoarseRes), s.coarseRes)
	atomic.StoreUint32(p.u32(offNCPUs), s.ncpus)
	atomic.StoreUint32(p.u32(offGetcpuMode), s.getcpuMode)
	for i := range s.baseNS {
		atomic.StoreUint64(p.u64(offBaseNS+8*uintptr(i)), s.baseNS[i])
	}
	atomic.StoreUint32(p.u32(offSeq), seq+2)
}

// read returns a consistent snapshot, as the vDSO's reader does.
func (p params) read() snapshot {
	for {
		seq := atomic.LoadUint32(p.u32(offSeq))
		if seq&1 != 0 {
			continue
		}
		s := snapshot{
			flags:      atomic.LoadUint32(p.u32(offFlags)),
			tscBase:    atomic.LoadUint64(p.u64(offTSCBase)),
			mult:       atomic.LoadUint64(p.u64(offMult)),
			shift:      atomic.LoadUint32(p.u32(offShift)),
			clockMask:  atomic.LoadUint32(p.u32(offClockMask)),
			coarseRes:  atomic.LoadUint64(p.u64(offCoarseRes)),
			ncpus:      atomic.LoadUint32(p.u32(offNCPUs)),
			getcpuMode: atomic.LoadUint32(p.u32(offGetcpuMode)),
		}
		for i := range s.baseNS {
			s.baseNS[i] = atomic.LoadUint64(p.u64(offBaseNS + 8*uintptr(i)))
		}
		if atomic.LoadUint32(p.u32(offSeq)) == seq {
			return s
		}
	}
}

// clockNS computes clock id's time at TSC value tsc exactly like vdso.c's
// clock_ns. ok is false where the vDSO would make the syscall.
func (s *snapshot) clockNS(id int, tsc uint64) (ns uint64, ok bool) {
	if id < 0 || id >= numClocks || s.flags&flagTSC == 0 || s.clockMask&(1<<id) == 0 {
		return 0, false
	}
	return s.baseNS[id] + scale(tsc, s.tscBase, s.mult, s.shift), true
}

// scale converts the TSC delta tsc-base (0 if negative) to nanoseconds:
// (delta * mult) >> shift, with a 128-bit product like vdso.c.
func scale(tsc, base, mult uint64, shift uint32) uint64 {
	if tsc <= base {
		return 0
	}
	hi, lo := bits.Mul64(tsc-base, mult)
	if shift == 0 {
		return lo
	}
	if shift >= 64 {
		return hi >> (shift - 64)
	}
	return lo>>shift | hi<<(64-shift)
}

// pagePtr returns a pointer to page's first word (tests).
func pagePtr(page []uint64) unsafe.Pointer { return unsafe.Pointer(&page[0]) }

// paramsAt returns the parameters written to the page that starts at b[0]
// (which must be 8-byte aligned and stay alive).
func paramsAt(b []byte) params { return params{page: unsafe.Pointer(&b[0])} }
