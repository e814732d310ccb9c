package arch

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cLayout is a C program printing the kernel ABI's offsets that the frame
// code hard-codes (struct rt_sigframe is not in the uapi headers, so its
// layout is spelled out from arch/x86/include/asm/sigframe.h).
const cLayout = `
#include <stddef.h>
#include <stdio.h>
#include <asm/sigcontext.h>
#include <asm/siginfo.h>
#include <asm/signal.h>
struct kucontext {
	unsigned long uc_flags;
	struct kucontext *uc_link;
	stack_t uc_stack;
	struct sigcontext uc_mcontext;
	unsigned long uc_sigmask;
};
struct rt_sigframe {
	char *pretcode;
	struct kucontext uc;
	siginfo_t info;
};
int main(void) {
	printf("%zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
		sizeof(struct rt_sigframe), sizeof(struct kucontext), sizeof(struct sigcontext),
		sizeof(stack_t), offsetof(struct rt_sigframe, uc), offsetof(struct rt_sigframe, info),
		offsetof(struct kucontext, uc_stack), offsetof(struct kucontext, uc_mcontext),
		offsetof(struct kucontext, uc_sigmask), offsetof(struct sigcontext, fpstate));
	return 0;
}
`

func TestSignalFrameLayoutMatchesC(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "layout.c")
	if err := os.WriteFile(src, []byte(cLayout), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "layout")
	if out, err := exec.Command(cc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("cannot compile the layout probe (kernel headers missing?): %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, f := range strings.Fields(string(out)) {
		n, _ := strconv.Atoi(f)
		got = append(got, n)
	}
	want := []int{SignalFrameSize, UContextSize, SigContextSize, SignalStackSize,
		UContextOffset, SiginfoOffset, UCStackOffset - UContextOffset,
		SigContextOffset - UContextOffset, UCSigmaskOffset - UContextOffset, SigContextFPOffset}
	if len(got) != len(want) {
		t.Fatalf("probe printed %q", out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: C says %d, arch says %d", i, got[i], want[i])
		}
	}
}

func TestSignalFrameLayout(t *testing.T) {
	// Sizes from arch/x86/include/uapi/asm/sigcontext.h and ucontext.h.
	if SignalFrameSize != 8+UContextSize+128 || UContextSize != 8+8+24+256+8 {
		t.Fatalf("frame sizes %d/%d", SignalFrameSize, UContextSize)
	}
	for _, sp := range []uint64{0x7fff0000, 0x7fff0008, 0x7fff1234} {
		l := LayoutSignalFrame(sp, false, 2696)
		if l.FPState%64 != 0 {
			t.Errorf("sp %#x: fpstate %#x not 64-byte aligned", sp, l.FPState)
		}
		if (l.Frame+8)%16 != 0 {
			t.Errorf("sp %#x: frame %#x: rsp+8 not 16-byte aligned", sp, l.Frame)
		}
		if l.FPState+l.FPSize > sp-redZoneSize {
			t.Errorf("sp %#x: FP state overlaps the red zone", sp)
		}
		if l.Frame+SignalFrameSize > l.FPState {
			t.Errorf("sp %#x: frame overlaps the FP state", sp)
		}
	}
}

func TestSigContextRoundTrip(t *testing.T) {
	var r Registers
	r.R8, r.R15, r.Rdi, r.Rax, r.Rsp, r.Rip = 1, 2, 3, 4, 5, 6
	r.Eflags = 0x246
	r.Cs, r.Ss = 0x33, 0x2b
	var b [SigContextSize]byte
	PutSigContext(b[:], &r, SigContextInfo{Trapno: 14, Err: 6, Cr2: 0x1000, Oldmask: 0x10, FPState: 0xabc0})
	if got := binary.LittleEndian.Uint64(b[16*8:]); got != 6 {
		t.Errorf("rip at offset 128 = %d", got)
	}
	if got := binary.LittleEndian.Uint16(b[144:]); got != 0x33 {
		t.Errorf("cs = %#x", got)
	}
	var back Registers
	back.Eflags = 0x202
	fp := GetSigContext(b[:], &back)
	if fp != 0xabc0 || back.R8 != 1 || back.R15 != 2 || back.Rdi != 3 || back.Rax != 4 || back.Rsp != 5 || back.Rip != 6 {
		t.Errorf("round trip: %+v fp %#x", back, fp)
	}
	if back.Orig_rax != ^uint64(0) {
		t.Errorf("orig_rax = %#x, want -1", back.Orig_rax)
	}
}
