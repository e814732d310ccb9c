package loader

import "github.com/rampart-sandbox/rampart/sentry/arch"

// hostHWCap returns AT_HWCAP as Linux computes it on x86-64: the EDX
// feature word of CPUID leaf 1.
func hostHWCap() uint64 {
	_, _, _, edx := arch.CPUID(1, 0)
	return uint64(edx)
}

// hostMinSigStackSize approximates Linux's AT_MINSIGSTKSZ
// (init_sigframe_size): the rt_sigframe (siginfo, ucontext, return address),
// alignment padding, and the XSAVE area for the features enabled in XCR0
// (arch.FPStateSize) plus its magic trailer, rounded to 16.
func hostMinSigStackSize() uint64 {
	const (
		rtSigframe   = 8 + 128 + 304 // pretcode, siginfo, ucontext
		framePadding = 15
		xsavePadding = 63
	)
	size := rtSigframe + framePadding + uint64(arch.FPStateSize()) + 4 + xsavePadding
	return (size + 15) &^ 15
}
