package hostinet

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Endpoint is the host half of a socket whose file belongs to another
// family package: an AF_UNIX socket of the sandbox connected to, or
// listening on, a host socket (sentry/socket/unix under --host-uds). It
// offers that package hostinet's own implementation of the data path
// (SendMsg, RecvMsg with the sentry's blocking and timeouts, Readiness,
// Shutdown, AcceptFD) on the host descriptor; the wrapping family keeps
// the socket file, the names and the options, and decides what reaches
// the host.
type Endpoint = endpoint

// Wrap makes the host half of the socket file f from hfd (a host socket
// of family and stype, non-blocking; taken over, closed on error). The
// host's readiness edges notify q, f's wait queue, and f's status flags
// decide whether calls block. Release closes hfd; the caller calls it
// when f is released.
func (n *Net) Wrap(hfd, family, stype int, f *vfs.FileDescription, q *vfs.WaitQueue) (*Endpoint, error) {
	e := &endpoint{net: n, hfd: hfd, family: family, stype: stype, fd: f, q: q}
	if err := n.notifier.Add(hfd, q); err != nil {
		unix.Close(hfd)
		return nil, unix.ENOMEM
	}
	n.track(e)
	return e, nil
}

// SetTimeouts sets the SO_RCVTIMEO and SO_SNDTIMEO that blocking calls
// honour (0: none); the wrapping family keeps the values it reports.
func (e *endpoint) SetTimeouts(rcv, snd time.Duration) {
	e.rcvTimeo.Store(int64(rcv))
	e.sndTimeo.Store(int64(snd))
}

// HostGetsockopt reads a socket option of the host descriptor, for the
// wrapping family, which chooses the options (SO_PEERCRED, SO_ERROR).
func (e *endpoint) HostGetsockopt(level, name, size int) ([]byte, error) {
	return hostGetsockopt(e.hfd, level, name, size)
}

// HostInq is FIONREAD of the host descriptor.
func (e *endpoint) HostInq() (int32, error) { return hostIoctlInt(e.hfd, unix.SIOCINQ) }
