//go:build linux && amd64

package systrap

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStubUpToDate rebuilds the stub from stubsrc/stub.S and checks that
// the checked-in stub.bin and stub_offsets.go match (`make systrap-stub`).
func TestStubUpToDate(t *testing.T) {
	for _, tool := range []string{"gcc", "objcopy", "nm", "gofmt"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("stubsrc/build.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	for _, f := range []string{"stub.bin", "stub_offsets.go"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make systrap-stub", f)
		}
	}
}

// TestLayoutMatchesStub checks the offsets and values stub.S defines
// against the Go side's.
func TestLayoutMatchesStub(t *testing.T) {
	src, err := os.ReadFile("stubsrc/stub.S")
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]string{}
	for _, line := range bytes.Split(src, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) >= 3 && string(f[0]) == "#define" {
			defs[string(f[1])] = string(f[2])
		}
	}
	want := map[string]uint64{
		"SLOT_SIZE": slotSize, "PAGE": pageSize,
		"T_STATE": tState, "T_STUB_SLEEP": tStubSleep, "T_SENTRY_SLEEP": tSentrySleep,
		"T_SIGNO": tSigno, "T_UCTX": tUctx, "T_INFO": tInfo, "T_FSBASE": tFSBase,
		"T_GSBASE": tGSBase, "T_SPIN": tSpin, "T_SPIN_WOKE": tSpinWoke, "T_RAX": tRax, "T_NR": tNR,
		"T_SELF": tSelf, "T_INTRAMP": tInTramp, "T_PREGS": tPRegs, "T_CREGS": tCRegs,
		"T_RESET_UC": tResetUC, "T_RESET_SP": tResetSP,
		"ST_EVENT": stEvent, "ST_RUN": stRun, "ST_TRAP": stTrap, "ST_RESET": stReset,
		"R_SEQ": rSeq, "R_NR": rNr, "R_ARGS": rArgs, "R_EXTRA": rExtra, "R_SPIN": rSpin, "R_BATCH": rBatch, "BATCH_ENTRY": batchEntry, "NR_BATCH": nrBatch,
		"P_SEQ": pSeq, "P_SENTRY_SLEEP": pSentrySleep, "P_RET": pRet, "P_SERVER_SLEEP": pServerSleep,
		"D_FPROG": dFprog, "D_EMPTYMASK": dEmptyMask, "D_REGIONSIZE": dRegionSize, "D_SHAREDFD": dSharedFD,
		"D_SERVER_WAIT": dServerWait, "D_VIEWS": dViews, "SIGCHLD": uint64(interruptSignal),
	}
	for name, v := range want {
		s, ok := defs[name]
		if !ok {
			t.Errorf("stub.S does not define %s", name)
			continue
		}
		var got uint64
		if _, err := fmt.Sscan(s, &got); err != nil {
			t.Errorf("%s = %q: %v", name, s, err)
			continue
		}
		if got != v {
			t.Errorf("stub.S %s = %d, Go has %d", name, got, v)
		}
	}
}
