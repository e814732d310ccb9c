//go:build linux && amd64

package fence

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
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

// The actions a filter returns (include/uapi/linux/seccomp.h).
const (
	RetKillProcess = bpf.RetKillProcess
	RetTrap        = bpf.RetTrap
	RetLog         = bpf.RetLog
	RetAllow       = bpf.RetAllow
)

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
	var b bpf.Assembler
	b.LoadAbs(bpf.SeccompDataArch)
	b.JEq(bpf.AuditArchX86_64, "arch.ok", "")
	b.Ret(deny)
	b.Label("arch.ok")
	b.LoadAbs(bpf.SeccompDataNr)
	b.JSet(bpf.X32SyscallBit, "", "nr.ok")
	b.Ret(deny)
	b.Label("nr.ok")
	for i, r := range rules {
		next := fmt.Sprintf("nr%d", i)
		b.JEq(uint32(r.Nr), "", next)
		if len(r.Any) == 0 {
			b.Ret(RetAllow)
		} else {
			b.JA(fmt.Sprintf("args%d", i))
		}
		b.Label(next)
	}
	b.Label("deny")
	b.Ret(deny)
	for i, r := range rules {
		b.Label(fmt.Sprintf("args%d", i))
		for j, a := range r.Any {
			fail := fmt.Sprintf("args%d.%d", i, j+1)
			if j == len(r.Any)-1 {
				fail = fmt.Sprintf("args%d.deny", i)
			}
			for k, c := range a {
				if c.op == checkAny {
					continue
				}
				switch c.op {
				case checkEq:
					b.ArgEq(k, c.val, fail)
				case checkMaskedZero:
					b.ArgNoBits(k, c.val, fail)
				}
			}
			b.Ret(RetAllow)
			if j < len(r.Any)-1 {
				b.Label(fail)
			}
		}
		b.Label(fmt.Sprintf("args%d.deny", i))
		b.Ret(deny)
	}
	prog, err := b.AssembleSock()
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	return prog, nil
}
