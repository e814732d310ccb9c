//go:build linux && amd64

package fence

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Rule allows one host syscall to the sandbox process, optionally only
// with some arguments. Adding a syscall to the sentry's filter is adding
// one Rule to a list in rules.go (and its name to TestRules).
type Rule struct {
	Nr   uintptr
	Name string
	// Any, if not empty, allows the call only when one of its entries
	// matches; an entry matches when each of its non-zero Checks holds
	// for the argument of the same index.
	Any []Args
}

// Args are the checks of one argument combination, by argument index.
type Args [6]Check

// Check is a test of one 64-bit syscall argument. The zero Check allows
// any value.
type Check struct {
	op  checkOp
	val uint64
}

type checkOp uint8

const (
	checkAny checkOp = iota
	checkEq
	checkMaskedZero
)

// Eq holds when the argument equals v.
func Eq(v uint64) Check { return Check{checkEq, v} }

// NoBits holds when the argument has none of the bits of mask set.
func NoBits(mask uint64) Check { return Check{checkMaskedZero, mask} }

// Arg0 etc. build an Args with one check, the common case.
func Arg0(c Check) Args { return Args{c} }
func Arg1(c Check) Args { return Args{1: c} }
func Arg2(c Check) Args { return Args{2: c} }

// OneOf allows the call when argument i is one of vals.
func OneOf(i int, vals ...uint64) []Args {
	out := make([]Args, len(vals))
	for j, v := range vals {
		out[j][i] = Eq(v)
	}
	return out
}

// Offsets in struct seccomp_data and the values used
// (include/uapi/linux/seccomp.h, include/uapi/linux/audit.h).
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16

	auditArchX86_64 = 0xc000003e
	// x32SyscallBit marks x32 syscalls, which share AUDIT_ARCH_X86_64.
	x32SyscallBit = 0x40000000

	RetKillProcess = 0x80000000
	RetTrap        = 0x00030000
	RetLog         = 0x7ffc0000
	RetAllow       = 0x7fff0000
)

// builder assembles a classic BPF program whose jumps name labels; JA
// (32-bit offsets) carries the long jumps, so the program may be of any
// length up to BPF_MAXINSNS.
type builder struct {
	insns  []unix.SockFilter
	fixups []fixup
	labels map[string]int
}

// fixup records an instruction whose jump targets are labels.
type fixup struct {
	pc     int
	jt, jf string // for conditional jumps ("" = next instruction)
	ja     string // for JA
}

func (b *builder) here(label string) {
	if b.labels == nil {
		b.labels = map[string]int{}
	}
	b.labels[label] = len(b.insns)
}

func (b *builder) emit(code uint16, k uint32) {
	b.insns = append(b.insns, unix.SockFilter{Code: code, K: k})
}

func (b *builder) load(off uint32) { b.emit(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }
func (b *builder) ret(k uint32)    { b.emit(unix.BPF_RET|unix.BPF_K, k) }

// jeq jumps to jt when A == k, else to jf ("" is the next instruction).
func (b *builder) jeq(k uint32, jt, jf string) {
	b.fixups = append(b.fixups, fixup{pc: len(b.insns), jt: jt, jf: jf})
	b.emit(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, k)
}

// jset jumps to jt when A & k != 0, else to jf.
func (b *builder) jset(k uint32, jt, jf string) {
	b.fixups = append(b.fixups, fixup{pc: len(b.insns), jt: jt, jf: jf})
	b.emit(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, k)
}

func (b *builder) ja(label string) {
	b.fixups = append(b.fixups, fixup{pc: len(b.insns), ja: label})
	b.emit(unix.BPF_JMP|unix.BPF_JA, 0)
}

// program resolves the labels; every jump must go forward and a
// conditional one at most 255 instructions.
func (b *builder) program() ([]unix.SockFilter, error) {
	target := func(pc int, l string) (int, error) {
		if l == "" {
			return 0, nil
		}
		t, ok := b.labels[l]
		if !ok || t <= pc {
			return 0, fmt.Errorf("seccomp filter: bad jump from %d to %q", pc, l)
		}
		return t - pc - 1, nil
	}
	for _, f := range b.fixups {
		in := &b.insns[f.pc]
		if f.ja != "" {
			off, err := target(f.pc, f.ja)
			if err != nil {
				return nil, err
			}
			in.K = uint32(off)
			continue
		}
		jt, err := target(f.pc, f.jt)
		if err != nil {
			return nil, err
		}
		jf, err := target(f.pc, f.jf)
		if err != nil {
			return nil, err
		}
		if jt > 255 || jf > 255 {
			return nil, fmt.Errorf("seccomp filter: conditional jump from %d too long", f.pc)
		}
		in.Jt, in.Jf = uint8(jt), uint8(jf)
	}
	if len(b.insns) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp filter: %d instructions, more than %d", len(b.insns), unix.BPF_MAXINSNS)
	}
	return b.insns, nil
}

// Program builds the filter for rules: a syscall of another architecture,
// an x32 syscall, a syscall not in rules, or one whose arguments match
// none of its rule's entries returns deny (RetKillProcess, or RetTrap /
// RetLog for diagnosis); the rules' syscalls return RetAllow.
//
// Layout: the architecture check, then one "jeq nr" per rule in the
// order given (the hottest first: each sentry syscall walks the chain), a
// plain allow for rules without argument checks or a JA to the rule's
// argument block, then the deny, then the argument blocks.
func Program(rules []Rule, deny uint32) ([]unix.SockFilter, error) {
	seen := map[uintptr]bool{}
	for _, r := range rules {
		if seen[r.Nr] {
			return nil, fmt.Errorf("seccomp filter: syscall %s (%d) listed twice", r.Name, r.Nr)
		}
		seen[r.Nr] = true
	}
	var b builder
	b.load(seccompDataArch)
	b.jeq(auditArchX86_64, "arch.ok", "")
	b.ret(deny)
	b.here("arch.ok")
	b.load(seccompDataNr)
	b.jset(x32SyscallBit, "", "nr.ok")
	b.ret(deny)
	b.here("nr.ok")
	for i, r := range rules {
		next := fmt.Sprintf("nr%d", i)
		b.jeq(uint32(r.Nr), "", next)
		if len(r.Any) == 0 {
			b.ret(RetAllow)
		} else {
			b.ja(fmt.Sprintf("args%d", i))
		}
		b.here(next)
	}
	b.here("deny")
	b.ret(deny)
	for i, r := range rules {
		b.here(fmt.Sprintf("args%d", i))
		for j, a := range r.Any {
			fail := fmt.Sprintf("args%d.%d", i, j+1)
			if j == len(r.Any)-1 {
				fail = fmt.Sprintf("args%d.deny", i)
			}
			for k, c := range a {
				if c.op == checkAny {
					continue
				}
				off := uint32(seccompDataArgs + 8*k)
				lo, hi := uint32(c.val), uint32(c.val>>32)
				switch c.op {
				case checkEq:
					b.load(off)
					b.jeq(lo, "", fail)
					b.load(off + 4)
					b.jeq(hi, "", fail)
				case checkMaskedZero:
					b.load(off)
					b.jset(lo, fail, "")
					b.load(off + 4)
					b.jset(hi, fail, "")
				}
			}
			b.ret(RetAllow)
			if j < len(r.Any)-1 {
				b.here(fail)
			}
		}
		b.here(fmt.Sprintf("args%d.deny", i))
		b.ret(deny)
	}
	return b.program()
}
