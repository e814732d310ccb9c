package loader

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Auxiliary vector entry types (include/uapi/linux/auxvec.h).
const (
	AT_NULL          = 0
	AT_PHDR          = 3
	AT_PHENT         = 4
	AT_PHNUM         = 5
	AT_PAGESZ        = 6
	AT_BASE          = 7
	AT_FLAGS         = 8
	AT_ENTRY         = 9
	AT_UID           = 11
	AT_EUID          = 12
	AT_GID           = 13
	AT_EGID          = 14
	AT_PLATFORM      = 15
	AT_HWCAP         = 16
	AT_CLKTCK        = 17
	AT_SECURE        = 23
	AT_RANDOM        = 25
	AT_HWCAP2        = 26
	AT_EXECFN        = 31
	AT_SYSINFO_EHDR  = 33
	AT_MINSIGSTKSZ   = 51
	platformString   = "x86_64"
	maxArgStrLen     = 32 * 4096 // MAX_ARG_STRLEN
	argMax           = 32 * 4096 // ARG_MAX: the floor of the argument limit
	maxArgLimit      = 6 << 20   // 3/4 of _STK_LIM
	maxAlignStackPad = 8192      // arch_align_stack's random pad
)

// auxEntry is one auxv pair. For AT_RANDOM, AT_EXECFN and AT_PLATFORM the
// value is filled in by buildStack with the address of what it placed.
type auxEntry struct{ key, val uint64 }

// stackInput is what buildStack lays out.
type stackInput struct {
	top    uint64 // highest address (exclusive), 16-aligned
	argv   []string
	envv   []string
	execfn string
	auxv   []auxEntry // without AT_NULL
	random [16]byte
	// pad is subtracted below the strings before aligning, like
	// arch_align_stack (random in [0, 8192) when randomizing).
	pad uint64
}

// stackLayout is the initial stack image: buf is to be copied to sp, and
// covers [sp, top).
type stackLayout struct {
	buf                []byte
	sp                 uint64
	argvStart, argvEnd uint64 // argv strings, for /proc/[pid]/cmdline
	envStart, envEnd   uint64 // env strings, for /proc/[pid]/environ
	auxv               []uint64
}

// checkArgs checks argv and envv against Linux's limits for a stack
// limit of stackLimit bytes (bprm_stack_limits): each string at most
// MAX_ARG_STRLEN, and everything within a quarter of the stack limit
// (at least ARG_MAX, at most 6 MiB). It returns E2BIG otherwise.
func checkArgs(argv, envv []string, execfn string, stackLimit uint64) error {
	limit := uint64(maxArgLimit)
	if q := stackLimit / 4; q < limit {
		limit = q
	}
	if limit < argMax {
		limit = argMax
	}
	ptrs := uint64(len(argv)+len(envv)) * 8
	if ptrs >= limit {
		return errorf(unix.E2BIG, "%d arguments and environment strings exceed the limit", len(argv)+len(envv))
	}
	limit -= ptrs
	total := uint64(len(execfn) + 1)
	for _, list := range [][]string{argv, envv} {
		for _, s := range list {
			if len(s)+1 > maxArgStrLen {
				return errorf(unix.E2BIG, "an argument or environment string is %d bytes, more than %d", len(s), maxArgStrLen-1)
			}
			total += uint64(len(s) + 1)
		}
	}
	if total > limit {
		return errorf(unix.E2BIG, "arguments and environment take %d bytes, more than the limit %d", total, limit)
	}
	return nil
}

// buildStack lays out the initial stack exactly like Linux's exec and
// create_elf_tables, from the top down:
//
//	8 zero bytes
//	execfn string
//	env strings, argv strings (argv[0] lowest)
//	pad, then align to 16
//	"x86_64\0" (AT_PLATFORM)
//	16 random bytes (AT_RANDOM)
//	gap to make sp 16-aligned
//	auxv pairs ending with AT_NULL
//	envp pointers, NULL
//	argv pointers, NULL
//	argc                        <- sp, 16-aligned
//
// It is pure: the result is a byte image to copy to sp.
func buildStack(in stackInput) stackLayout {
	var l stackLayout
	// Compute the addresses first.
	p := in.top - 8
	p -= uint64(len(in.execfn) + 1)
	execfnAddr := p
	envSize := uint64(0)
	for _, s := range in.envv {
		envSize += uint64(len(s) + 1)
	}
	argSize := uint64(0)
	for _, s := range in.argv {
		argSize += uint64(len(s) + 1)
	}
	l.envEnd = p
	p -= envSize
	l.envStart = p
	l.argvEnd = p
	p -= argSize
	l.argvStart = p
	stringsStart := p

	p -= in.pad
	p &^= 15
	p -= uint64(len(platformString) + 1)
	platformAddr := p
	p -= 16
	randomAddr := p

	nAux := (len(in.auxv) + 1) * 2
	l.auxv = make([]uint64, 0, nAux)
	for _, e := range in.auxv {
		switch e.key {
		case AT_RANDOM:
			e.val = randomAddr
		case AT_EXECFN:
			e.val = execfnAddr
		case AT_PLATFORM:
			e.val = platformAddr
		}
		l.auxv = append(l.auxv, e.key, e.val)
	}
	l.auxv = append(l.auxv, AT_NULL, 0)

	sp := p - uint64(nAux)*8
	items := uint64(len(in.argv)+1+len(in.envv)+1) + 1
	sp = (sp - items*8) &^ 15
	l.sp = sp

	// Now fill the image.
	buf := make([]byte, in.top-sp)
	at := func(addr uint64) []byte { return buf[addr-sp:] }
	le := binary.LittleEndian

	copy(at(execfnAddr), in.execfn)
	q := stringsStart
	argPtrs := make([]uint64, len(in.argv))
	for i, s := range in.argv {
		argPtrs[i] = q
		copy(at(q), s)
		q += uint64(len(s) + 1)
	}
	envPtrs := make([]uint64, len(in.envv))
	for i, s := range in.envv {
		envPtrs[i] = q
		copy(at(q), s)
		q += uint64(len(s) + 1)
	}
	copy(at(platformAddr), platformString)
	copy(at(randomAddr), in.random[:])

	w := sp
	put := func(v uint64) {
		le.PutUint64(at(w), v)
		w += 8
	}
	put(uint64(len(in.argv)))
	for _, a := range argPtrs {
		put(a)
	}
	put(0)
	for _, e := range envPtrs {
		put(e)
	}
	put(0)
	for _, v := range l.auxv {
		put(v)
	}
	l.buf = buf
	return l
}
