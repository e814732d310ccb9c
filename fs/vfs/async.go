package vfs

// AsyncFile is implemented by a Waitable file that can drive signal-driven
// I/O: while O_ASYNC is set on it, its readiness notifications become
// signals to the file's owner (F_SETOWN). Linux's files with an fasync
// method are these: pipes, sockets, terminals, inotify. Sockets need not
// implement it (every socket can); other files accept O_ASYNC from
// F_SETFL without sending anything, and FIOASYNC is ENOTTY for them.
type AsyncFile interface {
	Waitable
	// AsyncFile marks the implementation.
	AsyncFile()
}

// The reasons a signal-driven I/O signal gives (si_code POLL_*).
const (
	PollIn  = 1 // data to read
	PollOut = 2 // room to write
	PollMsg = 3 // a message (dnotify)
	PollErr = 4
	PollPri = 5 // urgent data
	PollHup = 6 // the other side is gone
)

// AsyncReasoner is implemented by an AsyncFile whose signals carry a
// reason (si_code POLL_IN, POLL_OUT, …) that the events of a notification
// do not tell: a pipe's reader hears POLL_IN and its writer POLL_OUT for
// every change, the other end's close included.
type AsyncReasoner interface {
	AsyncReason(ready uint32) int32
}

// Async returns the state the kernel keeps for the description's
// signal-driven I/O (F_SETOWN, F_SETSIG, O_ASYNC, F_NOTIFY), made by mk the
// first time it is asked for; nil when it was never made and mk is nil.
// The VFS only stores it: an owner set through one descriptor is the owner
// for every descriptor of the description, as on Linux.
func (fd *FileDescription) Async(mk func() any) any {
	if v := fd.async.Load(); v != nil || mk == nil {
		return v
	}
	fd.async.CompareAndSwap(nil, mk())
	return fd.async.Load()
}

// AsyncFlusher is implemented by the kernel's state in Async when it must
// hear of every close of a descriptor of the file, not only the last:
// F_NOTIFY's watches belong to the descriptor table that set them, which
// loses them when it closes any descriptor of the file (Linux's
// dnotify_flush).
type AsyncFlusher interface {
	FlushAsync(table *FDTable)
}
