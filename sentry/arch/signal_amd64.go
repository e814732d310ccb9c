package arch

import "encoding/binary"

// The x86-64 signal frame, as Linux builds it on the user stack
// (arch/x86/include/asm/sigframe.h, arch/x86/kernel/signal_64.c):
//
//	struct rt_sigframe {
//		char *pretcode;          //   0: sa_restorer, popped by the handler's ret
//		struct ucontext uc;      //   8
//		struct siginfo info;     // 312
//	};                           // 440 bytes
//	struct ucontext {
//		unsigned long uc_flags;  //   0
//		struct ucontext *uc_link;//   8
//		stack_t uc_stack;        //  16: ss_sp, ss_flags (int), ss_size
//		struct sigcontext uc_mcontext; // 40: 256 bytes
//		sigset_t uc_sigmask;     // 296
//	};                           // 304 bytes
//
// The FP state (XSAVE area, 64-byte aligned, followed by FP_XSTATE_MAGIC2)
// lies above the frame; sigcontext.fpstate points to it.
const (
	SignalFrameSize     = 440
	UContextSize        = 304
	SigContextSize      = 256
	SignalStackSize     = 24
	UContextOffset      = 8
	UCStackOffset       = UContextOffset + 16
	SigContextOffset    = UContextOffset + 40
	UCSigmaskOffset     = UContextOffset + 296
	SiginfoOffset       = UContextOffset + UContextSize
	SigContextFPOffset  = 184 // sigcontext.fpstate
	sigcontextCSOffset  = 144
	sigcontextErrOffset = 152

	// uc_flags bits (arch/x86/include/uapi/asm/ucontext.h).
	UCFPXState         = 0x1
	UCSigContextSS     = 0x2
	UCStrictRestoreSS  = 0x4
	redZoneSize        = 128
	userCS, userDS     = 0x33, 0x2b
	eflagsTF, eflagsDF = 0x100, 0x400
	eflagsRF           = 0x10000
	// eflagsFixMask are the flags sigreturn takes from the frame
	// (FIX_EFLAGS in signal.c); the others keep their current values.
	eflagsFixMask = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000 | 0x10000 | 0x200000
)

// SignalStack is stack_t (sigaltstack).
type SignalStack struct {
	Sp    uint64
	Flags int32
	Size  uint64
}

// Contains reports whether sp lies on the stack. Linux's __on_sig_stack
// for a downward-growing stack: sp > ss_sp && sp - ss_sp <= ss_size.
func (s *SignalStack) Contains(sp uint64) bool {
	return s.Size != 0 && sp > s.Sp && sp-s.Sp <= s.Size
}

// Top returns the address just above the stack.
func (s *SignalStack) Top() uint64 { return s.Sp + s.Size }

// PutSignalStack encodes s as stack_t.
func PutSignalStack(b []byte, s SignalStack) {
	binary.LittleEndian.PutUint64(b[0:], s.Sp)
	binary.LittleEndian.PutUint32(b[8:], uint32(s.Flags))
	binary.LittleEndian.PutUint32(b[12:], 0)
	binary.LittleEndian.PutUint64(b[16:], s.Size)
}

// GetSignalStack decodes a stack_t.
func GetSignalStack(b []byte) SignalStack {
	return SignalStack{
		Sp:    binary.LittleEndian.Uint64(b[0:]),
		Flags: int32(binary.LittleEndian.Uint32(b[8:])),
		Size:  binary.LittleEndian.Uint64(b[16:]),
	}
}

// sigcontextRegs returns pointers to the registers of struct sigcontext
// in its order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags.
func sigcontextRegs(r *Registers) [18]*uint64 {
	return [18]*uint64{
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp,
		&r.Rip, &r.Eflags,
	}
}

// SigContextInfo is what a sigcontext holds besides the registers.
type SigContextInfo struct {
	Err, Trapno, Oldmask, Cr2, FPState uint64
}

// PutSigContext encodes r and extra as struct sigcontext into b (256
// bytes).
func PutSigContext(b []byte, r *Registers, extra SigContextInfo) {
	clear(b[:SigContextSize])
	for i, p := range sigcontextRegs(r) {
		binary.LittleEndian.PutUint64(b[i*8:], *p)
	}
	binary.LittleEndian.PutUint16(b[sigcontextCSOffset:], uint16(r.Cs))
	binary.LittleEndian.PutUint16(b[sigcontextCSOffset+2:], uint16(r.Gs))
	binary.LittleEndian.PutUint16(b[sigcontextCSOffset+4:], uint16(r.Fs))
	binary.LittleEndian.PutUint16(b[sigcontextCSOffset+6:], uint16(r.Ss))
	binary.LittleEndian.PutUint64(b[sigcontextErrOffset:], extra.Err)
	binary.LittleEndian.PutUint64(b[sigcontextErrOffset+8:], extra.Trapno)
	binary.LittleEndian.PutUint64(b[sigcontextErrOffset+16:], extra.Oldmask)
	binary.LittleEndian.PutUint64(b[sigcontextErrOffset+24:], extra.Cr2)
	binary.LittleEndian.PutUint64(b[SigContextFPOffset:], extra.FPState)
}

// GetSigContext restores r from the struct sigcontext in b as rt_sigreturn
// does: every general register and rip, the user-changeable flags (the
// rest keep their current values), fixed user selectors. It returns the
// fpstate pointer.
func GetSigContext(b []byte, r *Registers) (fpstate uint64) {
	oldFlags := r.Eflags
	for i, p := range sigcontextRegs(r) {
		*p = binary.LittleEndian.Uint64(b[i*8:])
	}
	r.Eflags = (oldFlags &^ eflagsFixMask) | (r.Eflags & eflagsFixMask)
	r.Cs, r.Ss = userCS, userDS
	// Linux: orig_ax = -1, so that the restored rax is never taken for a
	// syscall to restart.
	r.Orig_rax = ^uint64(0)
	return binary.LittleEndian.Uint64(b[SigContextFPOffset:])
}

// SignalFrameLayout is where a signal frame goes on the stack.
type SignalFrameLayout struct {
	// Frame is the address of the rt_sigframe (the handler's rsp).
	Frame uint64
	// FPState is the address of the 64-byte-aligned FP state.
	FPState uint64
	// FPSize is the size of the FP state area including the trailing
	// FP_XSTATE_MAGIC2 (0 when there is none).
	FPSize uint64
}

// LayoutSignalFrame places a frame below sp (already the top of the
// alternate stack, or the interrupted rsp below which the red zone is
// skipped when onAltStack is false), as Linux's get_sigframe does.
func LayoutSignalFrame(sp uint64, switchedToAltStack bool, fpSize int) SignalFrameLayout {
	if !switchedToAltStack {
		sp -= redZoneSize
	}
	var l SignalFrameLayout
	l.FPSize = uint64(fpSize)
	if UseXsave() {
		l.FPSize += FPXStateMagic2Size
	}
	sp = (sp - l.FPSize) &^ 63
	l.FPState = sp
	sp -= SignalFrameSize
	l.Frame = (sp &^ 15) - 8
	return l
}

// SetupSignalHandlerRegs points r at handler for signal sig with its frame
// at l, as Linux's setup_rt_frame leaves the registers: rdi = sig, rsi =
// &frame.info, rdx = &frame.uc, rax = 0 (no vector registers used, for
// variadic handlers), rsp = frame, DF/TF/RF cleared.
func SetupSignalHandlerRegs(r *Registers, l SignalFrameLayout, sig int, handler uint64) {
	r.Rdi = uint64(sig)
	r.Rsi = l.Frame + SiginfoOffset
	r.Rdx = l.Frame + UContextOffset
	r.Rax = 0
	r.Rsp = l.Frame
	r.Rip = handler
	r.Eflags &^= eflagsDF | eflagsRF | eflagsTF
	r.Cs, r.Ss = userCS, userDS
}
