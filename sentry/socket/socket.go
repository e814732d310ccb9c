// Package socket owns the sentry's socket layer: the interface every
// socket file implements (Socket), the registry of address families
// (Provider, held per sandbox by the Stack) through which unix, inet
// loopback, netlink and host sockets plug in, and the pieces they share (control messages, credentials, the
// generic socket options).
//
// The syscall handlers (syscalls/linux/sys_socket.go) copy arguments in
// and out of application memory and call the Socket methods; a family
// never touches application memory itself.
//
// Lock order: this package has no locks of its own; the Stack (stack.go)
// is immutable once built, and each family documents its locks.
package socket

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Creds is a process's identity as SCM_CREDENTIALS and SO_PEERCRED report
// it (struct ucred).
type Creds struct {
	PID int32
	UID uint32
	GID uint32
}

// NoCreds is what SCM_CREDENTIALS reports of a message sent without
// credentials: Linux's scm_send leaves its ids invalid, which read as the
// overflow id 65534, and its pid 0.
func NoCreds() Creds { return Creds{UID: 65534, GID: 65534} }

// CredsOf returns the identity of the calling task: its thread group id
// and effective uid and gid (zero for a context that is not a task).
func CredsOf(ctx vfs.Context) Creds {
	c := Creds{}
	if cr := ctx.Credentials(); cr != nil {
		c.UID, c.GID = uint32(cr.EffectiveKUID), uint32(cr.EffectiveKGID)
	}
	if t, ok := ctx.(*kernel.Task); ok {
		c.PID = int32(t.ThreadGroup().PID())
	}
	return c
}

// ControlMessages are the ancillary data of one message (sendmsg's
// msg_control after parsing, recvmsg's before formatting).
type ControlMessages struct {
	// Rights are the files of SCM_RIGHTS; the holder owns one reference
	// on each.
	Rights []*vfs.FileDescription
	// RightsUID is the real uid of the sender, charged for Rights while
	// they are in flight (Linux's per-user unix_inflight).
	RightsUID uint32
	// Creds are SCM_CREDENTIALS, valid when HasCreds.
	Creds    Creds
	HasCreds bool
}

// Release drops the references of rights that were not delivered.
func (c *ControlMessages) Release(ctx vfs.Context) {
	for _, f := range c.Rights {
		f.DecRef(ctx)
	}
	c.Rights = nil
}

// RecvResult is what RecvMsg reports besides the bytes copied.
type RecvResult struct {
	// N is the number of bytes copied to the buffer; MsgLen is the real
	// length of a datagram (for MSG_TRUNC), N otherwise.
	N, MsgLen int
	// From is the sender's address (nil if it has none).
	From []byte
	// Control is the ancillary data, owned by the caller.
	Control ControlMessages
	// Flags are the msg_flags (MSG_TRUNC, MSG_EOR, ...; MSG_CTRUNC is the
	// caller's business).
	Flags int
	// Discarded says that the N bytes were taken without being copied to
	// the buffer (TCP's MSG_TRUNC): the caller must not copy it out.
	Discarded bool
}

// Socket is an open socket: the vfs.FileDescriptionImpl of every socket
// file. Addresses are raw sockaddr bytes in the family's layout; the
// family validates them. Methods may block unless the file is
// non-blocking (O_NONBLOCK) or the flags say MSG_DONTWAIT.
type Socket interface {
	vfs.FileDescriptionImpl
	vfs.Waitable

	// Family, Type and Protocol are SO_DOMAIN, SO_TYPE and SO_PROTOCOL.
	Family() int
	Type() int
	Protocol() int

	Bind(ctx vfs.Context, addr []byte) error
	Listen(ctx vfs.Context, backlog int) error
	// Accept returns a new connected socket with flags (SOCK_NONBLOCK)
	// and its peer's address.
	Accept(ctx vfs.Context, flags int) (*vfs.FileDescription, []byte, error)
	Connect(ctx vfs.Context, addr []byte) error
	Shutdown(ctx vfs.Context, how int) error
	// SockName and PeerName are getsockname and getpeername (ENOTCONN).
	SockName() []byte
	PeerName() ([]byte, error)
	// SendMsg sends src (to, if not nil). It takes over ctl's
	// references, delivered or not.
	SendMsg(ctx vfs.Context, src []byte, to []byte, ctl *ControlMessages, flags int) (int, error)
	// RecvMsg receives into dst.
	RecvMsg(ctx vfs.Context, dst []byte, flags int, res *RecvResult) error
	// SetSockOpt and GetSockOpt handle the options of their levels;
	// GetSockOpt returns at most size bytes.
	SetSockOpt(ctx vfs.Context, level, name int, val []byte) error
	GetSockOpt(ctx vfs.Context, level, name, size int) ([]byte, error)
}

// StreamVec is implemented by stream sockets that send from, or receive
// into, a buffer in several pieces with one call: an application buffer
// that lies in several ranges of the memory file, which the sentry then
// copies once, from or into the application's own pages. The pieces are
// taken in order under one hold of the socket's lock, as one buffer
// would be (a send may still interleave with another where it waits for
// room, as on Linux). A receive never waits for a piece after the first.
// Neither takes control messages, and RecvVec takes no MSG_PEEK or
// MSG_WAITALL.
type StreamVec interface {
	SendVec(ctx vfs.Context, srcs [][]byte, flags int) (int, error)
	RecvVec(ctx vfs.Context, dsts [][]byte, flags int) (int, error)
}

// Provider creates the sockets of one address family.
type Provider interface {
	// Socket creates a socket of type stype (without the SOCK_NONBLOCK
	// and SOCK_CLOEXEC flags) and protocol; flags are the file's status
	// flags (O_NONBLOCK).
	Socket(ctx vfs.Context, stype, protocol int, flags uint32) (*vfs.FileDescription, error)
	// Pair creates two connected sockets (socketpair(2)), EOPNOTSUPP if
	// the family has none.
	Pair(ctx vfs.Context, stype, protocol int, flags uint32) (*vfs.FileDescription, *vfs.FileDescription, error)
}

// FromFile returns the socket behind f, or ENOTSOCK.
func FromFile(f *vfs.FileDescription) (Socket, error) {
	s, ok := f.Impl().(Socket)
	if !ok {
		return nil, unix.ENOTSOCK
	}
	return s, nil
}

// Buffer sizes: Linux's defaults (net.core.wmem_default and rmem_default)
// and the ceiling of SO_SNDBUF/SO_RCVBUF for an unprivileged caller
// (wmem_max, rmem_max), before Linux doubles the value for overhead.
const (
	DefaultBufSize = 212992
	MaxBufSize     = 212992
	MinSndBuf      = 4608
	MinRcvBuf      = 2304
)

// TCP's buffer sizes are Linux's net.ipv4.tcp_wmem and tcp_rmem instead:
// a TCP socket starts with TCPSndBuf and TCPRcvBuf, and once connected,
// unless SO_SNDBUF set its size, its send buffer is TCPSndBufMax (Linux's
// tcp_sndbuf_expand grows it there at once on a loopback connection, as
// getsockopt shows on the host).
const (
	TCPSndBuf    = 16384
	TCPSndBufMax = 4194304
	TCPRcvBuf    = 131072
)

// BufSize is the value SO_SNDBUF/SO_RCVBUF store for a requested v: as
// Linux's sock_setsockopt, clamped to the maximum and doubled, no less
// than min.
func BufSize(v int32, min int) int {
	n := int(v)
	if n < 0 {
		n = 0
	}
	n = 2 * mini(n, MaxBufSize)
	if n < min {
		n = min
	}
	return n
}

func mini(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// Int32 is a 4-byte option value.
func Int32(v int32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

// OptInt reads an int option value: at least 4 bytes (EINVAL otherwise).
func OptInt(val []byte) (int32, error) {
	if len(val) < 4 {
		return 0, unix.EINVAL
	}
	return int32(uint32(val[0]) | uint32(val[1])<<8 | uint32(val[2])<<16 | uint32(val[3])<<24), nil
}

// Stat is the fstat of a socket: an anonymous S_IFSOCK inode.
func Stat(ino uint64) vfs.Stat {
	return vfs.Stat{Mode: unix.S_IFSOCK | 0o777, Nlink: 1, Ino: ino, Blksize: 4096}
}

// WaitLocked blocks a socket operation until q notifies an event of mask,
// ctx is interrupted, or the SO_SNDTIMEO/SO_RCVTIMEO timeout passes (0:
// none), which is EAGAIN as Linux reports it. mu, held by the caller, is
// released while blocking (vfs.WaitQueue.WaitLockedDeadline).
func WaitLocked(ctx vfs.Context, q *vfs.WaitQueue, mask uint32, mu sync.Locker, timeout time.Duration) error {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	err := q.WaitLockedDeadline(ctx, mask, mu, deadline)
	if err == unix.ETIMEDOUT {
		err = unix.EAGAIN
	}
	return err
}
