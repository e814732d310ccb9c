// Package ociseccomp compiles config.json's linux.seccomp (the OCI
// LinuxSeccomp profile Docker and podman always send) into a classic BPF
// seccomp program that the sentry runs on the container's processes, as
// runc installs the same profile with libseccomp.
//
// It lives under runsc, not sentry: it translates a runtime configuration
// format, and the sentry only ever sees the resulting bpf.Program. The
// package has no state; Compile may be called from any goroutine.
//
// The program checks the architecture (x86-64 only: the sentry implements
// no other ABI, so other listed architectures are ignored), refuses x32
// syscall numbers with the default action, then tests the syscall number:
// syscalls whose rule has no argument conditions are grouped by action, a
// chain of JEQs sharing one return per group; syscalls with conditions get
// a block each that compares 64-bit arguments on both 32-bit halves.
package ociseccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/syscalls/linux"
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// x32SyscallBit marks x32 ABI syscall numbers (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// maxArgs is the number of syscall arguments seccomp_data carries.
const maxArgs = 6

// Actions lists the OCI actions Compile accepts (for runsc features).
var Actions = []string{
	string(specs.ActKill), string(specs.ActKillThread), string(specs.ActKillProcess),
	string(specs.ActTrap), string(specs.ActErrno), string(specs.ActTrace),
	string(specs.ActAllow), string(specs.ActLog),
}

// Operators lists the OCI argument operators Compile accepts.
var Operators = []string{
	string(specs.OpNotEqual), string(specs.OpLessThan), string(specs.OpLessEqual),
	string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
	string(specs.OpMaskedEqual),
}

// Archs lists the architectures Compile recognizes (others listed in a
// profile are ignored; only x86-64 is enforced).
var Archs = []string{string(specs.ArchX86_64), string(specs.ArchX86), string(specs.ArchX32)}

// action returns the SECCOMP_RET_* value of an OCI action. errnoRet is the
// rule's errnoRet (nil: EPERM), used by ERRNO and TRACE as runc does.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	code := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("errnoRet %d out of range", *errnoRet)
		}
		code = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | code, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | code, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s is not supported (no seccomp notify listener)", a)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// cond is one argument comparison.
type cond struct {
	index      int
	op         specs.LinuxSeccompOperator
	value, two uint64
}

// rule is a conditional rule: all conds must hold for ret to apply.
type rule struct {
	conds []cond
	ret   uint32
}

// sysRules are the rules of one syscall number.
type sysRules struct {
	nr int
	// uncond, if set, is the action of the first unconditional rule; it
	// decides alone, as an unconditional libseccomp rule overrides the
	// conditional ones of the same syscall.
	uncond    *uint32
	condRules []rule
}

// Compile turns s into a validated seccomp program. Syscall names the
// sentry does not know are skipped, as runc and libseccomp skip names
// unknown to the architecture. It fails with a message naming the
// offending field for anything it cannot enforce faithfully.
func Compile(s *specs.LinuxSeccomp) (*bpf.Program, error) {
	insns, err := compile(s)
	if err != nil {
		return nil, err
	}
	p, err := bpf.CompileSeccomp(insns)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: the compiled filter is invalid: %w", err)
	}
	return p, nil
}

func compile(s *specs.LinuxSeccomp) ([]bpf.Instruction, error) {
	if s.ListenerPath != "" {
		return nil, errors.New("linux.seccomp: listenerPath is not supported (no seccomp notify)")
	}
	for _, f := range s.Flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			return nil, fmt.Errorf("linux.seccomp: unsupported flag %q", f)
		}
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	byNr := map[int]*sysRules{}
	var order []*sysRules
	for i, sc := range s.Syscalls {
		ret, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		conds := make([]cond, 0, len(sc.Args))
		var perIndex [maxArgs]int
		for j, a := range sc.Args {
			if a.Index >= maxArgs {
				return nil, fmt.Errorf("linux.seccomp.syscalls[%d].args[%d]: index %d out of range", i, j, a.Index)
			}
			if !validOp(a.Op) {
				return nil, fmt.Errorf("linux.seccomp.syscalls[%d].args[%d]: unknown operator %q", i, j, a.Op)
			}
			perIndex[a.Index]++
			conds = append(conds, cond{index: int(a.Index), op: a.Op, value: a.Value, two: a.ValueTwo})
		}
		// runc: several comparisons of one argument become one rule
		// each (OR); otherwise the comparisons form one rule (AND).
		var rules []rule
		split := false
		for _, n := range perIndex {
			split = split || n > 1
		}
		if split {
			for _, c := range conds {
				rules = append(rules, rule{conds: []cond{c}, ret: ret})
			}
		} else if len(conds) > 0 {
			rules = []rule{{conds: conds, ret: ret}}
		}
		for _, name := range sc.Names {
			nr, ok := linux.SyscallNumber(name)
			if !ok {
				continue
			}
			sr := byNr[nr]
			if sr == nil {
				sr = &sysRules{nr: nr}
				byNr[nr] = sr
				order = append(order, sr)
			}
			if len(rules) == 0 {
				if sr.uncond == nil {
					r := ret
					sr.uncond = &r
				}
				continue
			}
			sr.condRules = append(sr.condRules, rules...)
		}
	}

	var a asm
	a.stmt(bpf.ClassLD|bpf.SizeW|bpf.ModeABS, offArch)
	okArch := a.newLabel()
	a.jump(bpf.ClassJMP|bpf.JmpJEQ|bpf.SrcK, unix.AUDIT_ARCH_X86_64, okArch, -1)
	// libseccomp's default bad-architecture action kills.
	a.stmt(bpf.ClassRET|bpf.SrcK, unix.SECCOMP_RET_KILL_PROCESS)
	a.bind(okArch)
	a.stmt(bpf.ClassLD|bpf.SizeW|bpf.ModeABS, offNr)
	notX32 := a.newLabel()
	a.jump(bpf.ClassJMP|bpf.JmpJGE|bpf.SrcK, x32SyscallBit, -1, notX32)
	a.stmt(bpf.ClassRET|bpf.SrcK, def)
	a.bind(notX32)

	// Unconditional rules, grouped by action, each number once.
	var actions []uint32
	groups := map[uint32][]int{}
	for _, sr := range order {
		if sr.uncond == nil || *sr.uncond == def {
			continue
		}
		if _, ok := groups[*sr.uncond]; !ok {
			actions = append(actions, *sr.uncond)
		}
		groups[*sr.uncond] = append(groups[*sr.uncond], sr.nr)
	}
	const chunk = 200 // JEQ's jt reaches 255 instructions ahead.
	for _, act := range actions {
		nrs := groups[act]
		for len(nrs) > 0 {
			n := min(len(nrs), chunk)
			hit := a.newLabel()
			for _, nr := range nrs[:n] {
				a.jump(bpf.ClassJMP|bpf.JmpJEQ|bpf.SrcK, uint32(nr), hit, -1)
			}
			next := a.newLabel()
			a.ja(next)
			a.bind(hit)
			a.stmt(bpf.ClassRET|bpf.SrcK, act)
			a.bind(next)
			nrs = nrs[n:]
		}
	}
	// Conditional rules: one block per syscall; A holds nr until a
	// block is entered, and a block always returns.
	for _, sr := range order {
		if sr.uncond != nil || len(sr.condRules) == 0 {
			continue
		}
		enter, skip := a.newLabel(), a.newLabel()
		a.jump(bpf.ClassJMP|bpf.JmpJEQ|bpf.SrcK, uint32(sr.nr), enter, -1)
		a.ja(skip)
		a.bind(enter)
		for _, r := range sr.condRules {
			fail := a.newLabel()
			for _, c := range r.conds {
				a.compare(c, fail)
			}
			a.stmt(bpf.ClassRET|bpf.SrcK, r.ret)
			a.bind(fail)
		}
		a.stmt(bpf.ClassRET|bpf.SrcK, def)
		a.bind(skip)
	}
	a.stmt(bpf.ClassRET|bpf.SrcK, def)
	insns, err := a.resolve()
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	if len(insns) > bpf.MaxInstructions {
		return nil, fmt.Errorf("linux.seccomp: the profile compiles to %d BPF instructions, more than the limit of %d", len(insns), bpf.MaxInstructions)
	}
	return insns, nil
}

func validOp(op specs.LinuxSeccompOperator) bool {
	for _, o := range Operators {
		if string(op) == o {
			return true
		}
	}
	return false
}
