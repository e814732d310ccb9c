package boot

import (
	"io"
	"time"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/syscalls/strace"
)

// straceTracer adapts the strace formatter to the kernel's Tracer.
type straceTracer struct{ f *strace.Formatter }

func newStraceTracer(w io.Writer) kernel.Tracer { return straceTracer{strace.New(w)} }

func (s straceTracer) SyscallEnter(t *kernel.Task, nr uintptr, name string, a *arch.SyscallArguments) any {
	var args [6]uint64
	for i := range args {
		args[i] = uint64(a[i])
	}
	return s.f.Enter(int32(t.ThreadID()), nr, name, args, t)
}

func (s straceTracer) SyscallExit(t *kernel.Task, tok any, ret uintptr, err error, d time.Duration) {
	e, _ := tok.(strace.Entry)
	s.f.Exit(e, ret, err, d, t)
}
