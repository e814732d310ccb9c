package loader

// cpuid executes the CPUID instruction.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// hostHWCap returns AT_HWCAP as Linux computes it on x86-64: the EDX
// feature word of CPUID leaf 1.
func hostHWCap() uint64 {
	_, _, _, edx := cpuid(1, 0)
	return uint64(edx)
}

// hostMinSigStackSize approximates Linux's AT_MINSIGSTKSZ
// (init_sigframe_size): the rt_sigframe (siginfo, ucontext, return address),
// alignment padding, and the XSAVE area for the features enabled in XCR0
// (CPUID leaf 0xD, sub-leaf 0, EBX) plus its magic trailer, rounded to 16.
func hostMinSigStackSize() uint64 {
	const (
		rtSigframe   = 8 + 128 + 304 // pretcode, siginfo, ucontext
		framePadding = 15
		xsavePadding = 63
		fxsaveSize   = 512
	)
	xsave := uint64(fxsaveSize)
	if max, _, _, _ := cpuid(0, 0); max >= 0xd {
		_, _, ecx, _ := cpuid(1, 0)
		if ecx&(1<<27) != 0 { // OSXSAVE
			if _, ebx, _, _ := cpuid(0xd, 0); ebx > 0 {
				xsave = uint64(ebx)
			}
		}
	}
	size := rtSigframe + framePadding + xsave + 4 + xsavePadding
	return (size + 15) &^ 15
}
