// Package signalfd implements signalfd(2) files: reading one takes the
// reader's pending signals of the file's mask as struct signalfd_siginfo
// records, and it is readable while the creator has one pending.
//
// Like Linux, a read dequeues from the reading task (its thread-directed
// signals first, then its process'), while poll, which has no reader,
// looks at the task that created the file.
package signalfd

import (
	"encoding/binary"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// sizeofSiginfo is sizeof(struct signalfd_siginfo).
const sizeofSiginfo = 128

// unblockable are SIGKILL and SIGSTOP, which a signalfd never takes.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

// File is an open signalfd.
type File struct {
	vfs.FileDescriptionDefaultImpl

	fd    *vfs.FileDescription
	ino   uint64
	owner *kernel.Task
	mask  atomic.Uint64
}

// New returns a signalfd description for mask, created by t, with
// anonymous inode number ino; flags may hold O_NONBLOCK.
func New(ino uint64, t *kernel.Task, mask uint64, flags uint32) *vfs.FileDescription {
	f := &File{ino: ino, owner: t}
	f.SetMask(mask)
	f.fd = vfs.NewFileDescription(f, vfs.VirtualDentry{}, unix.O_RDWR|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	return f.fd
}

// SetMask replaces the set of signals the file reads (signalfd4 on an
// existing descriptor).
func (f *File) SetMask(mask uint64) { f.mask.Store(mask &^ unblockable) }

// AnonInodeName names the file in /proc/[pid]/fd.
func (f *File) AnonInodeName() string { return "[signalfd]" }

// Release implements vfs.FileDescriptionImpl.
func (f *File) Release(vfs.Context) {}

// Stat implements vfs.FileDescriptionImpl: an anonymous inode.
func (f *File) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o600, Nlink: 1, Ino: f.ino, Blksize: 4096}, nil
}

// RecordSize implements vfs.RecordReader: one signalfd_siginfo.
func (*File) RecordSize() int { return sizeofSiginfo }

// PRead implements read(2): as many records as fit in dst (EINVAL below
// one), blocking until at least one signal is pending unless O_NONBLOCK.
func (f *File) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) < f.RecordSize() {
		return 0, unix.EINVAL
	}
	t, ok := ctx.(*kernel.Task)
	if !ok {
		return 0, unix.EINVAL
	}
	n := 0
	for n+sizeofSiginfo <= len(dst) {
		info, ok := t.DequeueSignal(f.mask.Load())
		if !ok {
			if n > 0 {
				break
			}
			if f.fd.StatusFlags()&unix.O_NONBLOCK != 0 {
				return 0, unix.EAGAIN
			}
			if err := f.wait(t); err != nil {
				return 0, err
			}
			continue
		}
		encode(dst[n:n+sizeofSiginfo], &info)
		n += sizeofSiginfo
	}
	return n, nil
}

// wait blocks t until a signal of the mask is pending for it.
func (f *File) wait(t *kernel.Task) error {
	q := t.SignalWaitQueue()
	w := vfs.GetWaiter()
	defer vfs.PutWaiter(w)
	e := w.SingleEntry(vfs.ReadableEvents)
	q.EventRegister(e)
	defer q.EventUnregister(e)
	if t.HasPendingSignal(f.mask.Load()) {
		return nil
	}
	return vfs.Block(t, w)
}

// PWrite implements write(2): signalfds are not writable.
func (f *File) PWrite(_ vfs.Context, _ []byte, off int64, _ bool) (int, int64, error) {
	return 0, off, unix.EINVAL
}

// Readiness implements vfs.Waitable: readable while the creator has a
// signal of the mask pending.
func (f *File) Readiness(mask uint32) uint32 {
	if f.owner.HasPendingSignal(f.mask.Load()) {
		return vfs.ReadableEvents & mask
	}
	return 0
}

// EventRegister implements vfs.Waitable on the creator's signal queue.
func (f *File) EventRegister(e *vfs.WaitEntry) { f.owner.SignalWaitQueue().EventRegister(e) }

// EventUnregister implements vfs.Waitable.
func (f *File) EventUnregister(e *vfs.WaitEntry) { f.owner.SignalWaitQueue().EventUnregister(e) }

// encode writes info as a struct signalfd_siginfo, choosing the union
// members that si_code and the signal say are meaningful, as Linux's
// signalfd_copyinfo does.
func encode(b []byte, info *abi.SignalInfo) {
	clear(b)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	u := info.Fields[:]
	sig := unix.Signal(info.Signo)
	switch {
	case info.Code == abi.SI_TIMER:
		le.PutUint32(b[24:], le.Uint32(u[0:])) // ssi_tid
		le.PutUint32(b[32:], le.Uint32(u[4:])) // ssi_overrun
		le.PutUint32(b[44:], le.Uint32(u[8:])) // ssi_int
		le.PutUint64(b[48:], le.Uint64(u[8:])) // ssi_ptr
	case info.Code < 0:
		// SI_QUEUE, SI_TKILL, SI_MESGQ, …: the real-time layout.
		le.PutUint32(b[12:], le.Uint32(u[0:]))
		le.PutUint32(b[16:], le.Uint32(u[4:]))
		le.PutUint32(b[44:], le.Uint32(u[8:]))
		le.PutUint64(b[48:], le.Uint64(u[8:]))
	case info.Code == abi.SI_USER || info.Code == abi.SI_KERNEL:
		le.PutUint32(b[12:], le.Uint32(u[0:]))
		le.PutUint32(b[16:], le.Uint32(u[4:]))
	case sig == unix.SIGCHLD:
		le.PutUint32(b[12:], le.Uint32(u[0:]))
		le.PutUint32(b[16:], le.Uint32(u[4:]))
		le.PutUint32(b[40:], le.Uint32(u[8:]))  // ssi_status
		le.PutUint64(b[56:], le.Uint64(u[16:])) // ssi_utime
		le.PutUint64(b[64:], le.Uint64(u[24:])) // ssi_stime
	case sig == unix.SIGSEGV || sig == unix.SIGBUS || sig == unix.SIGILL || sig == unix.SIGFPE || sig == unix.SIGTRAP:
		le.PutUint64(b[72:], le.Uint64(u[0:])) // ssi_addr
	case sig == unix.SIGIO:
		le.PutUint32(b[28:], le.Uint32(u[0:])) // ssi_band
		le.PutUint32(b[20:], le.Uint32(u[8:])) // ssi_fd
	case sig == unix.SIGSYS:
		le.PutUint64(b[88:], le.Uint64(u[0:]))  // ssi_call_addr
		le.PutUint32(b[84:], le.Uint32(u[8:]))  // ssi_syscall
		le.PutUint32(b[96:], le.Uint32(u[12:])) // ssi_arch
	default:
		le.PutUint32(b[12:], le.Uint32(u[0:]))
		le.PutUint32(b[16:], le.Uint32(u[4:]))
	}
}
