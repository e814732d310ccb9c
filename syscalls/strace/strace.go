// Package strace formats application syscalls for --strace, one line per
// syscall in the style of strace(1) -f -T:
//
//	[pid    12] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3 <0.000021>
//	[pid    12] read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 4096) = 1234 <0.000008>
//	[pid    12] stat("/nope", 0x7ffd5e2c1a40) = -1 ENOENT (No such file or directory) <0.000004>
//
// The package owns the per-syscall argument formats (table_amd64.go) and the
// decoders for flags, enums and structs (args.go, flags.go). It reads
// application memory only through the Memory interface, reads it at most
// once per argument, never fails or changes the syscall, and prints the
// address of any argument it cannot read.
//
// Arguments the application passes in (paths, write buffers, argv, in
// structs) are read at Enter, before the syscall can change or unmap them;
// arguments the kernel fills in (read buffers, stat structs, …) are read at
// Exit, and only when the syscall succeeded. The line is written once, at
// Exit, with the duration.
//
// The ABI decoded here (syscall numbers, struct layouts) is x86-64's.
package strace

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Memory is how strace reads the application's memory. The kernel's Task
// implements it. Both methods must be safe to call with any address: a bad
// one returns an error (EFAULT), which strace shows as the raw address.
type Memory interface {
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyInString(addr uint64, maxLen int) (string, error)
}

// Formatter formats syscalls and writes one line per syscall to an
// io.Writer. It is safe for concurrent use by several tasks; each line is
// written with a single Write call, so lines never interleave.
type Formatter struct {
	// mu serializes writes to w. It is never held while application memory
	// is read.
	mu sync.Mutex
	w  io.Writer

	// records recycles the per-call state (*record) between syscalls.
	records sync.Pool
}

// New returns a Formatter that writes to w.
func New(w io.Writer) *Formatter {
	f := &Formatter{w: w}
	f.records.New = func() any { return new(record) }
	return f
}

// Entry is the state of one syscall between Enter and Exit. It must be
// passed to Exit exactly once; the zero Entry is ignored by Exit. An Entry
// holds a single pointer, so storing it in an interface does not allocate.
type Entry struct {
	r *record
}

// maxRecordBuf bounds the buffers a recycled record keeps.
const maxRecordBuf = 16 << 10

// outSlot marks where, in the text formatted at Enter, an out-argument is
// inserted at Exit.
type outSlot struct {
	off int   // byte offset into record.text
	idx uint8 // argument index
}

// record is the state of one syscall in flight. It is owned by the task
// that called Enter until Exit returns it to the pool.
type record struct {
	tid   int32
	sysno uintptr
	args  [6]uint64
	kinds [6]argKind
	nargs int
	ret   retKind

	// text is "[pid N] name(arg0, arg1, " as formatted at Enter, with the
	// out-arguments missing at the offsets recorded in outs.
	text  []byte
	outs  [6]outSlot
	nouts int

	// line is the buffer the final line is built in.
	line []byte

	// scratch is for struct and buffer reads.
	scratch [512]byte
}

// Enter formats the syscall's name and the arguments that must be read
// before the call. name is the syscall's name (from the syscall table);
// args are the raw register values; mem may be nil, in which case every
// pointer is printed as an address.
func (f *Formatter) Enter(tid int32, sysno uintptr, name string, args [6]uint64, mem Memory) Entry {
	r := f.records.Get().(*record)
	r.tid = tid
	r.sysno = sysno
	r.args = args
	r.nouts = 0
	if sf, ok := lookup(sysno); ok {
		r.kinds = sf.args
		r.nargs = int(sf.n)
		r.ret = sf.ret
		if sf.fixup != nil {
			sf.fixup(r)
		}
	} else {
		r.kinds = [6]argKind{aHex, aHex, aHex, aHex, aHex, aHex}
		r.nargs = 6
		r.ret = rInt
	}

	b := r.text[:0]
	b = appendPrefix(b, tid)
	if name == "" {
		b = append(b, "syscall_"...)
		b = strconv.AppendUint(b, uint64(sysno), 10)
	} else {
		b = append(b, name...)
	}
	b = append(b, '(')
	for i := 0; i < r.nargs; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		k := r.kinds[i]
		if k.isOut() {
			r.outs[r.nouts] = outSlot{off: len(b), idx: uint8(i)}
			r.nouts++
			continue
		}
		b = r.appendArg(b, i, k, mem)
	}
	r.text = b
	return Entry{r: r}
}

// Exit formats the out-arguments and the result of the syscall that e
// describes, and writes its line. ret and err are the handler's results;
// dur is how long the syscall ran. mem must be the memory of the same task
// (nil prints out-arguments as addresses).
func (f *Formatter) Exit(e Entry, ret uintptr, err error, dur time.Duration, mem Memory) {
	r := e.r
	if r == nil {
		return
	}
	failed := err != nil
	errno, ok := err.(unix.Errno)
	if failed && !ok {
		errno = asErrno(err)
	}

	b := r.line[:0]
	prev := 0
	for i := 0; i < r.nouts; i++ {
		s := r.outs[i]
		b = append(b, r.text[prev:s.off]...)
		prev = s.off
		if failed {
			b = appendPtr(b, r.args[s.idx])
		} else {
			b = r.appendOut(b, int(s.idx), r.kinds[s.idx], ret, mem)
		}
	}
	b = append(b, r.text[prev:]...)
	b = append(b, ") = "...)
	b = r.appendResult(b, ret, err, errno)
	b = append(b, " <"...)
	b = appendDuration(b, dur)
	b = append(b, ">\n"...)

	f.mu.Lock()
	// A failing writer must not affect the application; the line is lost.
	_, _ = f.w.Write(b)
	f.mu.Unlock()

	r.line = b
	if cap(r.line) > maxRecordBuf {
		r.line = nil
	}
	if cap(r.text) > maxRecordBuf {
		r.text = nil
	}
	f.records.Put(r)
}

// asErrno returns the errno wrapped in err, or 0.
func asErrno(err error) unix.Errno {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

// appendPrefix appends "[pid N] " with N right-aligned in five columns,
// like strace -f.
func appendPrefix(b []byte, tid int32) []byte {
	b = append(b, "[pid "...)
	var num [12]byte
	n := strconv.AppendInt(num[:0], int64(tid), 10)
	for i := len(n); i < 5; i++ {
		b = append(b, ' ')
	}
	b = append(b, n...)
	return append(b, "] "...)
}

// appendDuration appends d in seconds with microsecond precision, as
// strace -T does ("0.000123").
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	b = append(b, '.')
	us := int64(d%time.Second) / int64(time.Microsecond)
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + us%10)
		us /= 10
	}
	return append(b, digits[:]...)
}

// Kernel-internal restart errnos; they never reach the application, but
// strace shows them when a syscall is interrupted.
const (
	errRestartSys    = 512
	errRestartNoIntr = 513
	errRestartNoHand = 514
	errNoIoctlCmd    = 515
	errRestartBlock  = 516
)

// appendResult appends the return value, or "-1 ENAME (Description)".
func (r *record) appendResult(b []byte, ret uintptr, err error, errno unix.Errno) []byte {
	if err == nil {
		return r.appendRet(b, ret)
	}
	if errno == 0 {
		// Not an errno: the task is exiting (exit, exit_group, a fatal
		// signal) or an internal error the kernel maps to EIO.
		if r.ret == rNone {
			return append(b, '?')
		}
		b = append(b, "? ("...)
		b = append(b, err.Error()...)
		return append(b, ')')
	}
	switch errno {
	case errRestartSys:
		return append(b, "? ERESTARTSYS (To be restarted if SA_RESTART is set)"...)
	case errRestartNoIntr:
		return append(b, "? ERESTARTNOINTR (To be restarted)"...)
	case errRestartNoHand:
		return append(b, "? ERESTARTNOHAND (To be restarted if no handler)"...)
	case errNoIoctlCmd:
		return append(b, "? ENOIOCTLCMD (Unknown ioctl command)"...)
	case errRestartBlock:
		return append(b, "? ERESTART_RESTARTBLOCK (Interrupted by signal)"...)
	}
	b = append(b, "-1 "...)
	name := unix.ErrnoName(errno)
	if name == "" {
		b = append(b, "(errno "...)
		b = strconv.AppendUint(b, uint64(errno), 10)
		return append(b, ')')
	}
	b = append(b, name...)
	b = append(b, " ("...)
	// Go's errno strings are strerror's with a lower-case first letter.
	msg := errno.Error()
	if len(msg) > 0 && msg[0] >= 'a' && msg[0] <= 'z' {
		b = append(b, msg[0]-'a'+'A')
		msg = msg[1:]
	}
	b = append(b, msg...)
	return append(b, ')')
}

// appendRet appends a successful return value.
func (r *record) appendRet(b []byte, ret uintptr) []byte {
	switch r.ret {
	case rHex:
		return appendHex(b, uint64(ret))
	case rOct:
		return appendOct(b, uint64(ret))
	case rNone:
		return append(b, '?')
	case rFDFlags:
		b = appendHex(b, uint64(ret))
		b = append(b, " (flags "...)
		b = appendFlags(b, uint64(ret), fdFlagNames, "0")
		return append(b, ')')
	case rOpenFlags:
		b = appendHex(b, uint64(ret))
		b = append(b, " (flags "...)
		b = appendOpenFlags(b, uint64(ret))
		return append(b, ')')
	default:
		return strconv.AppendInt(b, int64(ret), 10)
	}
}
