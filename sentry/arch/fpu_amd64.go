package arch

import (
	"encoding/binary"
	"sync"
)

// The floating-point state of a task is kept in the XSAVE standard
// (non-compacted) format, as Linux's signal frames and PTRACE_GETREGSET
// NT_X86_XSTATE use it: a 512-byte legacy FXSAVE region, a 64-byte XSAVE
// header, then the extended components at the offsets CPUID leaf 0xD gives.
//
// Offsets into the legacy region and the header (Intel SDM vol. 1, 13.4).
const (
	FxsaveSize        = 512
	XsaveHeaderOffset = 512
	XsaveHeaderSize   = 64
	fcwOffset         = 0
	mxcsrOffset       = 24
	mxcsrMaskOffset   = 28
	// swReservedOffset is where Linux keeps struct _fpx_sw_bytes in a
	// signal frame's FP state (fxregs_state.sw_reserved).
	swReservedOffset = 464

	// XfeatureFPSSE is the x87 and SSE component bits.
	XfeatureFPSSE = 0x3

	// FP_XSTATE_MAGIC1 and FP_XSTATE_MAGIC2 mark an XSAVE signal frame
	// (arch/x86/include/uapi/asm/sigcontext.h).
	FPXStateMagic1     = 0x46505853
	FPXStateMagic2     = 0x46505845
	FPXStateMagic2Size = 4

	// DefaultMXCSR and DefaultFCW are the init values of MXCSR and the
	// x87 control word.
	DefaultMXCSR = 0x1f80
	DefaultFCW   = 0x37f
)

// CPUID executes the CPUID instruction for leaf and sub-leaf sub.
func CPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

func xgetbv0() (eax, edx uint32)

var (
	fpuOnce     sync.Once
	xsaveSize   int
	xfeatures   uint64
	useXsave    bool
	mxcsrMask32 uint32
)

func initFPU() {
	xsaveSize, xfeatures = FxsaveSize, XfeatureFPSSE
	mxcsrMask32 = 0xffff // every x86-64 CPU with XSAVE supports DAZ
	if max, _, _, _ := CPUID(0, 0); max >= 0xd {
		if _, _, ecx, _ := CPUID(1, 0); ecx&(1<<27) != 0 { // OSXSAVE
			lo, hi := xgetbv0()
			xcr0 := uint64(lo) | uint64(hi)<<32
			eax, ebx, _, edx := CPUID(0xd, 0)
			if ebx >= FxsaveSize+XsaveHeaderSize {
				useXsave = true
				xsaveSize = int(ebx)
				xfeatures = xcr0 & (uint64(eax) | uint64(edx)<<32)
			}
		}
	}
}

// FPStateSize returns the size in bytes of a task's full FP state on this
// CPU: CPUID leaf 0xD's XSAVE size for the features enabled in XCR0 (the
// user-visible size Linux puts in signal frames when no dynamically enabled
// feature such as AMX is in use), or 512 without XSAVE.
func FPStateSize() int {
	fpuOnce.Do(initFPU)
	return xsaveSize
}

// FPFeatures returns the XSAVE feature bits of the user FP state (XCR0).
func FPFeatures() uint64 {
	fpuOnce.Do(initFPU)
	return xfeatures
}

// UseXsave reports whether the CPU and host use XSAVE (else FXSAVE only).
func UseXsave() bool {
	fpuOnce.Do(initFPU)
	return useXsave
}

// InitFPState fills buf (FPStateSize bytes) with the state a new signal
// handler starts with, as after Linux's fpu__clear_user_states: x87 and SSE
// in their init values (control word 0x37f, MXCSR 0x1f80), every other
// component in its init state.
func InitFPState(buf []byte) {
	clear(buf)
	binary.LittleEndian.PutUint16(buf[fcwOffset:], DefaultFCW)
	binary.LittleEndian.PutUint32(buf[mxcsrOffset:], DefaultMXCSR)
	binary.LittleEndian.PutUint32(buf[mxcsrMaskOffset:], mxcsrMask())
	if len(buf) >= XsaveHeaderOffset+8 {
		binary.LittleEndian.PutUint64(buf[XsaveHeaderOffset:], XfeatureFPSSE)
	}
}

func mxcsrMask() uint32 {
	fpuOnce.Do(initFPU)
	return mxcsrMask32
}

// ValidMXCSR reports whether an MXCSR value has no reserved bit set, the
// condition under which FXRSTOR/XRSTOR (and so sigreturn) accept it.
func ValidMXCSR(v uint32) bool { return v&^mxcsrMask() == 0 }

// MXCSR returns the MXCSR word of an FP state buffer.
func MXCSR(buf []byte) uint32 { return binary.LittleEndian.Uint32(buf[mxcsrOffset:]) }

// XstateBV returns the XSTATE_BV word of the XSAVE header in buf.
func XstateBV(buf []byte) uint64 {
	if len(buf) < XsaveHeaderOffset+8 {
		return XfeatureFPSSE
	}
	return binary.LittleEndian.Uint64(buf[XsaveHeaderOffset:])
}

// SetXstateBV sets the XSTATE_BV word of the XSAVE header in buf.
func SetXstateBV(buf []byte, v uint64) {
	if len(buf) >= XsaveHeaderOffset+8 {
		binary.LittleEndian.PutUint64(buf[XsaveHeaderOffset:], v)
	}
}

// FPXSwBytes is struct _fpx_sw_bytes, which Linux stores in the reserved
// bytes 464..511 of the legacy region of a signal frame's FP state.
type FPXSwBytes struct {
	Magic1       uint32
	ExtendedSize uint32
	Xfeatures    uint64
	XstateSize   uint32
}

// PutSwBytes writes sw into the reserved area of the FP state in buf.
func PutSwBytes(buf []byte, sw FPXSwBytes) {
	b := buf[swReservedOffset : swReservedOffset+48]
	clear(b)
	binary.LittleEndian.PutUint32(b[0:], sw.Magic1)
	binary.LittleEndian.PutUint32(b[4:], sw.ExtendedSize)
	binary.LittleEndian.PutUint64(b[8:], sw.Xfeatures)
	binary.LittleEndian.PutUint32(b[16:], sw.XstateSize)
}

// SwBytes reads the _fpx_sw_bytes of the FP state in buf.
func SwBytes(buf []byte) FPXSwBytes {
	b := buf[swReservedOffset:]
	return FPXSwBytes{
		Magic1:       binary.LittleEndian.Uint32(b[0:]),
		ExtendedSize: binary.LittleEndian.Uint32(b[4:]),
		Xfeatures:    binary.LittleEndian.Uint64(b[8:]),
		XstateSize:   binary.LittleEndian.Uint32(b[16:]),
	}
}
