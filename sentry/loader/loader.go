// Package loader loads an executable into a fresh application address
// space for execve(2) and for a container's first process: ELF executables
// (static, static-PIE and dynamically linked, with their PT_INTERP
// interpreter), "#!" scripts, the initial stack (argv, envp, auxv) and the
// vDSO mapping (through package vdso).
//
// The loader trusts nothing in the file: every ELF header field is checked
// before it is used, and a hostile file yields an *Error carrying the errno
// that execve returns (ENOEXEC, ELIBBAD, EINVAL, ENOMEM, E2BIG, ELOOP),
// never a panic.
package loader

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"path"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/mm"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// File is an opened executable; the kernel adapts its VFS file to it.
// Implementations must be comparable with == (a pointer): the segments
// mapped from one File are told apart from other opens (MMapOpts.File).
type File interface {
	// ReadAt reads len(p) bytes at off; it returns fewer only at end of
	// file (with io.EOF or nil).
	ReadAt(p []byte, off int64) (int, error)
	// Size is the file's size in bytes.
	Size() int64
	// Mappable maps the file's pages (for PT_LOAD segments).
	Mappable() memmap.Mappable
	// Hold is passed as MMapOpts.Hold for each mapping of the file: it is
	// called with true when a vma starts referring to the file and with
	// false when it stops. It may be nil.
	Hold() func(inc bool)
	// Release drops the reference that OpenExecutable returned. The
	// loader calls it once it is done with the file (mappings keep their
	// own references through Hold).
	Release()
}

// Opener opens executables on behalf of the exec'ing task.
type Opener interface {
	// OpenExecutable resolves name with the task's root and working
	// directory, follows symlinks, checks that the result is a regular
	// file the task may execute (EACCES otherwise) and opens it. It
	// returns the file and its resolved absolute path (for
	// /proc/[pid]/exe and /proc/[pid]/maps).
	OpenExecutable(name string) (File, string, error)
}

// MemoryManager is what the loader needs of an address space;
// *mm.MemoryManager implements it (tests use a fake).
type MemoryManager interface {
	MMap(opts mm.MMapOpts) (uint64, error)
	MUnmap(addr, length uint64) error
	// CopyOut writes the initial stack.
	CopyOut(addr uint64, src []byte) (int, error)
	// ZeroOutForce zeroes memory ignoring vma write permission (the
	// bss tail in the last file page of a read-only segment).
	ZeroOutForce(addr, n uint64) (int, error)
	// SetMMapBase sets where mmap searches down from.
	SetMMapBase(addr uint64)
	SetBrkStart(addr uint64)
	SetArgvEnv(argvStart, argvEnd, envStart, envEnd uint64)
	SetAuxv(auxv []uint64)
}

var _ MemoryManager = (*mm.MemoryManager)(nil)

// Args is one load request.
type Args struct {
	// Filename is the path passed to execve (relative paths are resolved
	// by Opener). It is also AT_EXECFN and, for scripts, the script
	// argument of the interpreter.
	Filename string
	// Argv and Envv are the new program's arguments and environment. An
	// empty Argv is replaced by {""}, like Linux does.
	Argv, Envv []string
	Opener     Opener
	// MM is the fresh, empty address space to load into.
	MM MemoryManager
	// MaxUserAddress is the top (exclusive) of the application's
	// address range (platform.MaxUserAddress()).
	MaxUserAddress uint64
	// VDSO, if not nil, is mapped and advertised with AT_SYSINFO_EHDR.
	VDSO *vdso.VDSO
	// Credentials for the auxiliary vector.
	UID, EUID, GID, EGID uint32
	// Secure is AT_SECURE (set-id exec).
	Secure bool
	// Random supplies AT_RANDOM and the placement randomisation; nil
	// means crypto/rand.
	Random io.Reader
	// NoRandomize disables placement randomisation (ADDR_NO_RANDOMIZE).
	NoRandomize bool
	// StackLimit is RLIMIT_STACK's soft limit (0 or RLIM_INFINITY: 8 MiB).
	StackLimit uint64
}

// Image describes a loaded program.
type Image struct {
	// Entry is where the first instruction runs: the interpreter's entry
	// for a dynamically linked program.
	Entry uint64
	// StackPointer is the initial %rsp; it points at argc and is
	// 16-byte aligned.
	StackPointer uint64
	// BrkStart is the initial program break (already set in the mm).
	BrkStart uint64
	// Name is the base name of Filename, for comm (the caller truncates
	// it to TASK_COMM_LEN-1).
	Name string
	// Path is the resolved path of the ELF file that was loaded (the
	// interpreter of a script), for /proc/[pid]/exe.
	Path string
	// Argv is the argv that was placed on the stack (changed by #!).
	Argv []string
	// Auxv is the auxiliary vector, as pairs ending with AT_NULL, 0.
	Auxv []uint64
	// LoadBias is where the executable was placed (0 for ET_EXEC);
	// InterpBase is AT_BASE (0 without an interpreter); VDSOBase is
	// AT_SYSINFO_EHDR (0 without a vDSO).
	LoadBias, InterpBase, VDSOBase uint64
	// StackTop is the top of the "[stack]" mapping; MMapBase is where
	// mmap allocations start (below the stack gap).
	StackTop, MMapBase uint64
}

// Placement constants, as on Linux x86-64.
const (
	defaultStackLimit = 8 << 20
	maxStackMapping   = 1 << 30
	stackGuardGap     = 256 * usermem.PageSize
	stackRndPages     = 0x3fffff // STACK_RND_MASK: 16 GiB
	mmapRndPages      = 1 << 28  // mmap_rnd_bits = 28
	brkRndRange       = 0x02000000
	minGap            = 128 << 20
)

// Load loads a.Filename into a.MM and lays out its initial stack. On
// error, a.MM may hold partial mappings; the caller discards it (execve
// has not reached the point of no return).
func Load(a Args) (Image, error) {
	if a.MM == nil || a.Opener == nil {
		return Image{}, errorf(unix.EINVAL, "Load needs an Opener and a MemoryManager")
	}
	if a.Random == nil {
		a.Random = rand.Reader
	}
	l := &load{Args: a, maxAddr: usermem.PageRoundDown(a.MaxUserAddress)}
	if l.maxAddr < 64<<20 {
		return Image{}, errorf(unix.ENOMEM, "address space top %#x is too small", a.MaxUserAddress)
	}
	return l.run()
}

// load is the state of one Load call.
type load struct {
	Args
	maxAddr uint64
}

func (l *load) rnd(n uint64) (uint64, error) {
	if n == 0 || l.NoRandomize {
		return 0, nil
	}
	var b [8]byte
	if _, err := io.ReadFull(l.Random, b[:]); err != nil {
		return 0, wrapf(err, unix.EIO, "reading randomness")
	}
	return binary.LittleEndian.Uint64(b[:]) % n, nil
}

// openResolved opens the executable, following #! scripts. It returns the
// ELF file, its resolved path and the final argv.
func (l *load) openResolved() (File, string, []string, error) {
	name := l.Filename
	argv := l.Argv
	if len(argv) == 0 {
		argv = []string{""}
	}
	var hdr [scriptBufSize]byte
	for depth := 0; ; depth++ {
		f, resolved, err := l.Opener.OpenExecutable(name)
		if err != nil {
			return nil, "", nil, wrapf(err, unix.ENOENT, "opening %q", name)
		}
		n, err := f.ReadAt(hdr[:], 0)
		if err != nil && err != io.EOF && n < len(hdr) {
			f.Release()
			return nil, "", nil, wrapf(err, unix.EIO, "reading %q", name)
		}
		switch {
		case isELF(hdr[:n]):
			return f, resolved, argv, nil
		case isScript(hdr[:n]):
			f.Release()
			if depth >= maxScriptDepth {
				return nil, "", nil, errorf(unix.ELOOP, "more than %d levels of #! interpreters at %q", maxScriptDepth, name)
			}
			interp, arg, hasArg, err := parseScript(hdr[:n])
			if err != nil {
				return nil, "", nil, wrapf(err, unix.ENOEXEC, "script %q", name)
			}
			// The interpreter gets the script's path as executed
			// (the execve path at the first level, the previous
			// interpreter's name below that), like binfmt_script.
			argv = scriptArgv(interp, arg, hasArg, name, argv)
			name = interp
		default:
			f.Release()
			return nil, "", nil, errorf(unix.ENOEXEC, "%q is neither an ELF executable nor a #! script", name)
		}
	}
}

func (l *load) run() (Image, error) {
	if l.Filename == "" {
		return Image{}, errorf(unix.ENOENT, "empty filename")
	}
	f, resolved, argv, err := l.openResolved()
	if err != nil {
		return Image{}, err
	}
	defer f.Release()
	// Check the argument limits early (E2BIG before any mapping).
	stackLimit := l.StackLimit
	if stackLimit == 0 || stackLimit == unix.RLIM_INFINITY {
		stackLimit = defaultStackLimit
	}
	if err := checkArgs(argv, l.Envv, l.Filename, stackLimit); err != nil {
		return Image{}, err
	}

	exe, err := parseELF(f, f.Size(), l.maxAddr, unix.ENOEXEC)
	if err != nil {
		return Image{}, wrapf(err, unix.ENOEXEC, "%s", resolved)
	}

	// Address-space layout: the stack at the top, mmap below the stack
	// gap, like Linux's mmap_base.
	stackRnd, err := l.rnd(minU64(stackRndPages, l.maxAddr/64>>usermem.PageShift))
	if err != nil {
		return Image{}, err
	}
	stackTop := l.maxAddr - stackRnd<<usermem.PageShift
	stackSize := minU64(stackLimit, maxStackMapping)
	stackSize, _ = usermem.PageRoundUp(stackSize)
	gap := stackSize + stackGuardGap + stackRndPages<<usermem.PageShift
	gap = maxU64(gap, minGap)
	gap = minU64(gap, l.maxAddr/6*5)
	mmapRnd, err := l.rnd(minU64(mmapRndPages, l.maxAddr/16>>usermem.PageShift))
	if err != nil {
		return Image{}, err
	}
	mmapBase := l.maxAddr - gap - mmapRnd<<usermem.PageShift
	l.MM.SetMMapBase(mmapBase)

	stackPerms := usermem.ReadWrite
	stackPerms.Execute = exe.execStack
	if _, err := l.MM.MMap(mm.MMapOpts{
		Length:    stackSize,
		Addr:      stackTop - stackSize,
		Fixed:     true,
		GrowsDown: true,
		Private:   true,
		Perms:     stackPerms,
		MaxPerms:  usermem.AnyAccess,
		Name:      "[stack]",
	}); err != nil {
		return Image{}, wrapf(err, unix.ENOMEM, "mapping the stack at %#x", stackTop-stackSize)
	}

	// Place and map the executable.
	if exe.typ == etExec && exe.end > stackTop-stackSize-stackGuardGap {
		return Image{}, errorf(unix.ENOMEM, "%s: segments end at %#x, in the stack area below %#x", resolved, exe.end, stackTop)
	}
	var bias uint64
	if exe.typ == etDyn {
		// ELF_ET_DYN_BASE plus arch_mmap_rnd, aligned like Linux's
		// maximum_alignment.
		r, err := l.rnd(minU64(mmapRndPages, l.maxAddr/16>>usermem.PageShift))
		if err != nil {
			return Image{}, err
		}
		base := (l.maxAddr/3*2)&^usermem.PageMask + r<<usermem.PageShift
		base &^= exe.align - 1
		bias = base - exe.start
		if bias+exe.end > mmapBase {
			return Image{}, errorf(unix.ENOMEM, "PIE image of %#x bytes does not fit below the mmap area", exe.end-exe.start)
		}
	}
	if err := l.mapSegments(f, exe, bias, resolved); err != nil {
		return Image{}, err
	}
	brk := bias + exe.end
	brkRnd, err := l.rnd(brkRndRange >> usermem.PageShift)
	if err != nil {
		return Image{}, err
	}
	brk += brkRnd << usermem.PageShift

	entry := bias + exe.entry
	var interpBase uint64
	if exe.interp != "" {
		interpBase, entry, err = l.loadInterp(exe.interp)
		if err != nil {
			return Image{}, err
		}
	}
	l.MM.SetBrkStart(brk)

	var vdsoBase uint64
	if l.VDSO != nil {
		vdsoBase, err = l.VDSO.Map(l.MM)
		if err != nil {
			return Image{}, wrapf(err, unix.ENOMEM, "mapping the vDSO")
		}
	}

	// The stack.
	var auxv []auxEntry
	if vdsoBase != 0 {
		auxv = append(auxv, auxEntry{AT_SYSINFO_EHDR, vdsoBase})
	}
	var phdr uint64
	if exe.hasPhdr {
		phdr = bias + exe.phdrVaddr
	}
	secure := uint64(0)
	if l.Secure {
		secure = 1
	}
	auxv = append(auxv,
		auxEntry{AT_MINSIGSTKSZ, hostMinSigStackSize()},
		auxEntry{AT_HWCAP, hostHWCap()},
		auxEntry{AT_PAGESZ, usermem.PageSize},
		auxEntry{AT_CLKTCK, 100},
		auxEntry{AT_PHDR, phdr},
		auxEntry{AT_PHENT, phdrSize},
		auxEntry{AT_PHNUM, uint64(exe.phnum)},
		auxEntry{AT_BASE, interpBase},
		auxEntry{AT_FLAGS, 0},
		auxEntry{AT_ENTRY, bias + exe.entry},
		auxEntry{AT_UID, uint64(l.UID)},
		auxEntry{AT_EUID, uint64(l.EUID)},
		auxEntry{AT_GID, uint64(l.GID)},
		auxEntry{AT_EGID, uint64(l.EGID)},
		auxEntry{AT_SECURE, secure},
		auxEntry{AT_RANDOM, 0},
		// HWCAP2 advertises neither FSGSBASE nor ring-3 MWAIT: the
		// sentry must see every change of the FS base.
		auxEntry{AT_HWCAP2, 0},
		auxEntry{AT_EXECFN, 0},
		auxEntry{AT_PLATFORM, 0},
	)
	in := stackInput{top: stackTop, argv: argv, envv: l.Envv, execfn: l.Filename, auxv: auxv}
	if _, err := io.ReadFull(l.Random, in.random[:]); err != nil {
		return Image{}, wrapf(err, unix.EIO, "reading AT_RANDOM bytes")
	}
	if in.pad, err = l.rnd(maxAlignStackPad); err != nil {
		return Image{}, err
	}
	sl := buildStack(in)
	if uint64(len(sl.buf))+usermem.PageSize > stackSize {
		return Image{}, errorf(unix.E2BIG, "initial stack (%d bytes) does not fit in the stack limit", len(sl.buf))
	}
	if n, err := l.MM.CopyOut(sl.sp, sl.buf); err != nil || n != len(sl.buf) {
		if err == nil {
			err = unix.EFAULT
		}
		return Image{}, wrapf(err, unix.EFAULT, "writing the initial stack at %#x", sl.sp)
	}
	l.MM.SetArgvEnv(sl.argvStart, sl.argvEnd, sl.envStart, sl.envEnd)
	l.MM.SetAuxv(sl.auxv)

	return Image{
		Entry:        entry,
		StackPointer: sl.sp,
		BrkStart:     brk,
		Name:         path.Base(l.Filename),
		Path:         resolved,
		Argv:         argv,
		Auxv:         sl.auxv,
		LoadBias:     bias,
		InterpBase:   interpBase,
		VDSOBase:     vdsoBase,
		StackTop:     stackTop,
		MMapBase:     mmapBase,
	}, nil
}

// loadInterp loads the ELF interpreter at an mmap-chosen base. It returns
// the base (AT_BASE) and the entry point.
func (l *load) loadInterp(name string) (base, entry uint64, err error) {
	f, resolved, err := l.Opener.OpenExecutable(name)
	if err != nil {
		return 0, 0, wrapf(err, unix.ENOENT, "opening the ELF interpreter %q", name)
	}
	defer f.Release()
	info, err := parseELF(f, f.Size(), l.maxAddr, unix.ELIBBAD)
	if err != nil {
		return 0, 0, wrapf(err, unix.ELIBBAD, "ELF interpreter %s", resolved)
	}
	var bias uint64
	if info.typ == etDyn {
		// Reserve the whole span (plus slack to align it) where mmap
		// chooses, then map the segments over the reservation.
		span := info.end - info.start
		resLen := span + info.align - usermem.PageSize
		if resLen < span || resLen > l.maxAddr {
			return 0, 0, errorf(unix.ENOMEM, "ELF interpreter %s: image too large", resolved)
		}
		addr, err := l.MM.MMap(mm.MMapOpts{
			Length:   resLen,
			Private:  true,
			Perms:    usermem.NoAccess,
			MaxPerms: usermem.AnyAccess,
		})
		if err != nil {
			return 0, 0, wrapf(err, unix.ENOMEM, "reserving %#x bytes for the ELF interpreter", resLen)
		}
		aligned := (addr + info.align - 1) &^ (info.align - 1)
		bias = aligned - info.start
		// Drop the alignment slack; mapSegments replaces the rest.
		if aligned > addr {
			if err := l.MM.MUnmap(addr, aligned-addr); err != nil {
				return 0, 0, wrapf(err, unix.ENOMEM, "trimming the interpreter reservation")
			}
		}
		if tail := addr + resLen - (aligned + span); tail > 0 {
			if err := l.MM.MUnmap(aligned+span, tail); err != nil {
				return 0, 0, wrapf(err, unix.ENOMEM, "trimming the interpreter reservation")
			}
		}
	}
	if err := l.mapSegments(f, info, bias, resolved); err != nil {
		return 0, 0, err
	}
	return bias + info.start, bias + info.entry, nil
}

// mapSegments maps info's PT_LOAD segments at bias. For ET_DYN images
// whose span was reserved, the holes between segments are unmapped.
func (l *load) mapSegments(f File, info *elfInfo, bias uint64, name string) error {
	hold := f.Hold()
	mappable := f.Mappable()
	mapped := bias + info.start // everything below is done
	for i := range info.loads {
		ph := &info.loads[i]
		start := bias + ph.Vaddr
		fileEnd := start + ph.Filesz
		memEnd := start + ph.Memsz
		pageStart := usermem.PageRoundDown(start)
		if pageStart > mapped {
			// A hole between segments (only present in a reservation).
			if err := l.MM.MUnmap(mapped, pageStart-mapped); err != nil {
				return wrapf(err, unix.ENOMEM, "%s: unmapping the hole at %#x", name, mapped)
			}
		}
		perms := ph.perms()
		if ph.Filesz > 0 {
			fend, _ := usermem.PageRoundUp(fileEnd)
			if mappable == nil {
				return errorf(unix.EACCES, "%s: file cannot be mapped", name)
			}
			if _, err := l.MM.MMap(mm.MMapOpts{
				Length:   fend - pageStart,
				Addr:     pageStart,
				Fixed:    true,
				Unmap:    true,
				Private:  true,
				Perms:    perms,
				MaxPerms: usermem.AnyAccess,
				Mappable: mappable,
				Offset:   usermem.PageRoundDown(ph.Off),
				Name:     name,
				Hold:     hold,
				File:     f,
			}); err != nil {
				return wrapf(err, unix.ENOMEM, "%s: mapping PT_LOAD %#x-%#x", name, pageStart, fend)
			}
			mapped = fend
			if ph.Memsz > ph.Filesz && fileEnd&usermem.PageMask != 0 {
				// Zero the rest of the last file page (it holds
				// whatever follows in the file).
				if err := l.zero(fileEnd, fend-fileEnd); err != nil {
					return wrapf(err, unix.EFAULT, "%s: zeroing the bss tail at %#x", name, fileEnd)
				}
			}
		} else if start < mapped {
			// A bss-only segment starting in a page the previous
			// segment mapped: zero its part of that page.
			n := minU64(memEnd, mapped) - start
			if err := l.zero(start, n); err != nil {
				return wrapf(err, unix.EFAULT, "%s: zeroing bss at %#x", name, start)
			}
		}
		anonStart := maxU64(mapped, pageStart)
		anonEnd, _ := usermem.PageRoundUp(memEnd)
		if anonEnd > anonStart {
			if _, err := l.MM.MMap(mm.MMapOpts{
				Length:   anonEnd - anonStart,
				Addr:     anonStart,
				Fixed:    true,
				Unmap:    true,
				Private:  true,
				Perms:    perms,
				MaxPerms: usermem.AnyAccess,
			}); err != nil {
				return wrapf(err, unix.ENOMEM, "%s: mapping bss %#x-%#x", name, anonStart, anonEnd)
			}
			mapped = anonEnd
		}
	}
	return nil
}

// zero writes n zero bytes at addr, even in a read-only mapping.
func (l *load) zero(addr, n uint64) error {
	c, err := l.MM.ZeroOutForce(addr, n)
	if err == nil && uint64(c) != n {
		err = unix.EFAULT
	}
	return err
}

func minU64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
