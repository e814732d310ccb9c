package ociseccomp

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/syscalls/linux"
)

func nr(t *testing.T, name string) int32 {
	t.Helper()
	n, ok := linux.SyscallNumber(name)
	if !ok {
		t.Fatalf("no number for %s", name)
	}
	return int32(n)
}

func run(p *bpf.Program, nr int32, args ...uint64) uint32 {
	d := bpf.SeccompData{Nr: nr, Arch: unix.AUDIT_ARCH_X86_64}
	copy(d.Args[:], args)
	return p.Run(&d)
}

func mustCompile(t *testing.T, s *specs.LinuxSeccomp) *bpf.Program {
	t.Helper()
	p, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func uptr(v uint) *uint { return &v }

const errnoEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)

func TestActions(t *testing.T) {
	for _, tc := range []struct {
		act      specs.LinuxSeccompAction
		errnoRet *uint
		want     uint32
	}{
		{specs.ActAllow, nil, unix.SECCOMP_RET_ALLOW},
		{specs.ActErrno, nil, errnoEPERM},
		{specs.ActErrno, uptr(38), unix.SECCOMP_RET_ERRNO | 38},
		{specs.ActKill, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillThread, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillProcess, nil, unix.SECCOMP_RET_KILL_PROCESS},
		{specs.ActTrap, nil, unix.SECCOMP_RET_TRAP},
		{specs.ActTrace, uptr(7), unix.SECCOMP_RET_TRACE | 7},
		{specs.ActLog, nil, unix.SECCOMP_RET_LOG},
	} {
		p := mustCompile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "nosuchsyscall"}, Action: tc.act, ErrnoRet: tc.errnoRet}},
		})
		if got := run(p, nr(t, "mkdir")); got != tc.want {
			t.Errorf("%s: mkdir -> %#x, want %#x", tc.act, got, tc.want)
		}
		if got := run(p, nr(t, "getpid")); got != unix.SECCOMP_RET_ALLOW {
			t.Errorf("%s: getpid -> %#x, want allow", tc.act, got)
		}
	}
}

func TestDefaultAndArch(t *testing.T) {
	p := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uptr(uint(unix.ENOSYS)),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls:        []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActAllow}},
	})
	if got := run(p, 1); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("write -> %#x", got)
	}
	if got, want := run(p, 39), unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS); got != want {
		t.Errorf("getpid -> %#x, want %#x", got, want)
	}
	if got, want := run(p, 1|x32SyscallBit), unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS); got != want {
		t.Errorf("x32 write -> %#x, want %#x", got, want)
	}
	d := bpf.SeccompData{Nr: 1, Arch: unix.AUDIT_ARCH_I386}
	if got := p.Run(&d); got != unix.SECCOMP_RET_KILL_PROCESS {
		t.Errorf("i386 write -> %#x, want kill", got)
	}
}

// TestOperators checks every operator on values around the boundary in
// both halves of the 64-bit argument.
func TestOperators(t *testing.T) {
	const v = 0x0000_0001_8000_0000
	probes := []uint64{0, 1, v - 1, v, v + 1, 0x0000_0001_0000_0000, 0x0000_0000_ffff_ffff,
		0x0000_0002_0000_0000, 0x0000_0001_ffff_ffff, 0xffff_ffff_ffff_ffff, 0x0000_0000_8000_0000}
	for _, tc := range []struct {
		op  specs.LinuxSeccompOperator
		f   func(a uint64) bool
		two uint64
	}{
		{specs.OpEqualTo, func(a uint64) bool { return a == v }, 0},
		{specs.OpNotEqual, func(a uint64) bool { return a != v }, 0},
		{specs.OpLessThan, func(a uint64) bool { return a < v }, 0},
		{specs.OpLessEqual, func(a uint64) bool { return a <= v }, 0},
		{specs.OpGreaterThan, func(a uint64) bool { return a > v }, 0},
		{specs.OpGreaterEqual, func(a uint64) bool { return a >= v }, 0},
		{specs.OpMaskedEqual, func(a uint64) bool { return a&v == 0x0000_0001_0000_0000 }, 0x0000_0001_0000_0000},
	} {
		for idx := uint(0); idx < 6; idx += 5 {
			p := mustCompile(t, &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"chmod"}, Action: specs.ActErrno,
					Args: []specs.LinuxSeccompArg{{Index: idx, Value: v, ValueTwo: tc.two, Op: tc.op}}}},
			})
			for _, a := range probes {
				args := make([]uint64, 6)
				args[idx] = a
				want := uint32(unix.SECCOMP_RET_ALLOW)
				if tc.f(a) {
					want = errnoEPERM
				}
				if got := run(p, nr(t, "chmod"), args...); got != want {
					t.Errorf("%s arg%d=%#x: got %#x, want %#x", tc.op, idx, a, got, want)
				}
			}
		}
	}
}

// TestArgsAndOr checks runc's rule: comparisons of distinct arguments are
// ANDed, several comparisons of one argument become separate rules (OR).
func TestArgsAndOr(t *testing.T) {
	p := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 3, Op: specs.OpEqualTo}, {Index: 2, Value: 10, Op: specs.OpLessThan}}},
			{Names: []string{"write"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}},
		},
	})
	for _, tc := range []struct {
		nr   int32
		args []uint64
		want uint32
	}{
		{0, []uint64{3, 0, 9}, unix.SECCOMP_RET_ALLOW},
		{0, []uint64{3, 0, 10}, errnoEPERM},
		{0, []uint64{4, 0, 9}, errnoEPERM},
		{1, []uint64{1}, unix.SECCOMP_RET_ALLOW},
		{1, []uint64{2}, unix.SECCOMP_RET_ALLOW},
		{1, []uint64{3}, errnoEPERM},
	} {
		if got := run(p, tc.nr, tc.args...); got != tc.want {
			t.Errorf("nr %d %v: got %#x, want %#x", tc.nr, tc.args, got, tc.want)
		}
	}
}

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		s    specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}, "unknown action"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}}, "not supported"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "index 6"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_FOO"}}}}}, "unknown operator"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x"}, "listenerPath"},
	} {
		_, err := Compile(&tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%+v) = %v, want an error containing %q", tc.s, err, tc.want)
		}
	}
}

// TestDockerLikeProfile compiles a profile shaped like Docker's default
// (deny by default, ~330 allowed names, conditional personality, clone
// and socket rules) and checks its size and decisions.
func TestDockerLikeProfile(t *testing.T) {
	b, err := os.ReadFile("testdata/docker_like.json")
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Syscalls[0].Names); n < 300 {
		t.Fatalf("profile allows only %d names", n)
	}
	p := mustCompile(t, &s)
	if p.Len() > bpf.MaxInstructions/4 {
		t.Errorf("program has %d instructions", p.Len())
	}
	t.Logf("%d names -> %d instructions", len(s.Syscalls[0].Names), p.Len())
	for _, tc := range []struct {
		name string
		args []uint64
		want uint32
	}{
		{"read", nil, unix.SECCOMP_RET_ALLOW},
		{"mkdir", nil, unix.SECCOMP_RET_ALLOW},
		{"personality", []uint64{8}, unix.SECCOMP_RET_ALLOW},
		{"personality", []uint64{0xffffffff}, unix.SECCOMP_RET_ALLOW},
		{"personality", []uint64{1}, errnoEPERM},
		{"clone", []uint64{uint64(unix.SIGCHLD)}, unix.SECCOMP_RET_ALLOW},
		{"clone", []uint64{unix.CLONE_NEWNS}, errnoEPERM},
		{"clone3", nil, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"socket", []uint64{unix.AF_INET}, unix.SECCOMP_RET_ALLOW},
		{"socket", []uint64{unix.AF_VSOCK}, errnoEPERM},
	} {
		if got := run(p, nr(t, tc.name), tc.args...); got != tc.want {
			t.Errorf("%s %v: got %#x, want %#x", tc.name, tc.args, got, tc.want)
		}
	}
	// Every name of the allow-list is allowed, and mount is not.
	for _, name := range s.Syscalls[0].Names {
		if n, ok := linux.SyscallNumber(name); ok {
			if got := run(p, int32(n)); got != unix.SECCOMP_RET_ALLOW {
				t.Errorf("%s: got %#x", name, got)
			}
		}
	}
	if got := run(p, 165 /* mount */); got != errnoEPERM {
		t.Errorf("mount: got %#x", got)
	}
}
