package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/hostinet"
	"github.com/rampart-sandbox/rampart/sentry/socket/inet"
	"github.com/rampart-sandbox/rampart/sentry/socket/netlink"
	sunix "github.com/rampart-sandbox/rampart/sentry/socket/unix"
)

// NetworkConfig says which network a sandbox has.
type NetworkConfig struct {
	// Interfaces are what netlink and the SIOCGIF ioctls show; nil means
	// lo alone.
	Interfaces []socket.Interface
	// Host makes AF_INET and AF_INET6 host sockets (--network=host).
	Host bool
	// Sysctl reads the sandbox's sysctls (socket.Stack.Sysctl); nil
	// leaves Linux's defaults.
	Sysctl func(path string) uint64
}

// NewNetworkStack builds the network stack a Kernel owns
// (kernel.Config.Network) with every address family the sentry has.
func NewNetworkStack(c NetworkConfig) *socket.Stack {
	ifaces := c.Interfaces
	if ifaces == nil {
		ifaces = []socket.Interface{socket.Loopback()}
	}
	st := socket.NewStack(ifaces, c.Host)
	st.Sysctl = c.Sysctl
	sunix.Install(st)
	if c.Host {
		hostinet.Install(st)
	} else {
		inet.Install(st)
	}
	netlink.Install(st)
	return st
}

func registerSocket(t *kernel.SyscallTable) {
	for nr, fn := range map[uintptr]kernel.SyscallFn{
		unix.SYS_SOCKET: Socket, unix.SYS_SOCKETPAIR: Socketpair, unix.SYS_BIND: Bind,
		unix.SYS_LISTEN: Listen, unix.SYS_ACCEPT: Accept, unix.SYS_ACCEPT4: Accept4,
		unix.SYS_CONNECT: Connect, unix.SYS_GETSOCKNAME: Getsockname,
		unix.SYS_GETPEERNAME: Getpeername, unix.SYS_SENDTO: Sendto,
		unix.SYS_RECVFROM: Recvfrom, unix.SYS_SENDMSG: Sendmsg, unix.SYS_RECVMSG: Recvmsg,
		unix.SYS_SENDMMSG: Sendmmsg, unix.SYS_RECVMMSG: Recvmmsg, unix.SYS_SHUTDOWN: Shutdown,
		unix.SYS_SETSOCKOPT: Setsockopt, unix.SYS_GETSOCKOPT: Getsockopt,
	} {
		t.Register(nr, fn)
	}
}

const (
	// sockTypeMask is SOCK_TYPE_MASK; sockMax is SOCK_MAX.
	sockTypeMask = 0xf
	sockMax      = 11
	// nproto is NPROTO, the number of address families Linux knows.
	nproto = 46
	// maxSockaddr is sizeof(struct sockaddr_storage).
	maxSockaddr = 128
	// maxControl bounds msg_controllen (Linux's optmem_max gives
	// ENOBUFS past it).
	maxControl = 128 << 10
	// scmMaxFD is SCM_MAX_FD.
	scmMaxFD = 253
	// sizeofMsghdr and sizeofMmsghdr are struct msghdr and mmsghdr.
	sizeofMsghdr  = 56
	sizeofMmsghdr = 64
	sizeofCmsghdr = 16
	// msgWaitForOne is MSG_WAITFORONE, msgCmsgCloexec MSG_CMSG_CLOEXEC.
	msgWaitForOne  = 0x10000
	msgCmsgCloexec = 0x40000000
)

// getSocket returns the socket behind fd (EBADF, ENOTSOCK) with a
// reference on its file.
func getSocket(t *kernel.Task, fd int32) (socket.Socket, *vfs.FileDescription, error) {
	f, _, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	s, err := socket.FromFile(f)
	if err != nil {
		f.DecRef(t)
		return nil, nil, err
	}
	return s, f, nil
}

func splitType(typ int32) (stype int, flags uint32, cloexec bool, err error) {
	fl := typ &^ sockTypeMask
	if fl&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, 0, false, unix.EINVAL
	}
	stype = int(typ & sockTypeMask)
	if stype >= sockMax {
		return 0, 0, false, unix.EINVAL
	}
	if fl&unix.SOCK_NONBLOCK != 0 {
		flags = unix.O_NONBLOCK
	}
	return stype, flags, fl&unix.SOCK_CLOEXEC != 0, nil
}

// Socket implements socket(2).
func Socket(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	family := a[0].Int()
	stype, flags, cloexec, err := splitType(a[1].Int())
	if err != nil {
		return 0, err
	}
	if family < 0 || family >= nproto {
		return 0, unix.EAFNOSUPPORT
	}
	p, err := socket.StackOf(t).ProviderOf(int(family))
	if err != nil {
		return 0, err
	}
	f, err := p.Socket(t, stype, int(a[2].Int()), flags)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: cloexec}, 0)
	return uintptr(fd), err
}

// Socketpair implements socketpair(2).
func Socketpair(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	family := a[0].Int()
	stype, flags, cloexec, err := splitType(a[1].Int())
	if err != nil {
		return 0, err
	}
	if family < 0 || family >= nproto {
		return 0, unix.EAFNOSUPPORT
	}
	p, err := socket.StackOf(t).ProviderOf(int(family))
	if err != nil {
		return 0, err
	}
	x, y, err := p.Pair(t, stype, int(a[2].Int()), flags)
	if err != nil {
		return 0, err
	}
	defer x.DecRef(t)
	defer y.DecRef(t)
	fds, err := t.FDTable().InstallMany([]*vfs.FileDescription{x, y}, vfs.FDFlags{CloseOnExec: cloexec}, 0)
	if err != nil {
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(fds[0]))
	binary.LittleEndian.PutUint32(b[4:], uint32(fds[1]))
	if _, err := t.CopyOut(a[3].Pointer(), b[:]); err != nil {
		for _, fd := range fds {
			if f := t.FDTable().Remove(fd); f != nil {
				f.DecRef(t)
			}
		}
		return 0, unix.EFAULT
	}
	return 0, nil
}

// copyInSockaddr reads a sockaddr of addrlen bytes (EINVAL past
// sockaddr_storage).
func copyInSockaddr(t *kernel.Task, addr uint64, addrlen int32, buf *[maxSockaddr]byte) ([]byte, error) {
	if addrlen < 0 || addrlen > maxSockaddr {
		return nil, unix.EINVAL
	}
	b := buf[:addrlen]
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	return b, nil
}

// copyOutSockaddr writes sa to addr, truncated to the length at lenAddr,
// and stores its full length there. A zero addr skips it.
func copyOutSockaddr(t *kernel.Task, sa []byte, addr, lenAddr uint64) error {
	if addr == 0 {
		return nil
	}
	var lb [4]byte
	if _, err := t.CopyIn(lenAddr, lb[:]); err != nil {
		return unix.EFAULT
	}
	l := int32(binary.LittleEndian.Uint32(lb[:]))
	if l < 0 {
		return unix.EINVAL
	}
	if n := min(int(l), len(sa)); n > 0 {
		if _, err := t.CopyOut(addr, sa[:n]); err != nil {
			return unix.EFAULT
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(len(sa)))
	if _, err := t.CopyOut(lenAddr, lb[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// Bind implements bind(2).
func Bind(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	var buf [maxSockaddr]byte
	sa, err := copyInSockaddr(t, a[1].Pointer(), a[2].Int(), &buf)
	if err != nil {
		return 0, err
	}
	return 0, s.Bind(t, sa)
}

// Listen implements listen(2).
func Listen(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	return 0, s.Listen(t, int(a[1].Int()))
}

// Accept implements accept(2).
func Accept(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return accept(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), 0)
}

// Accept4 implements accept4(2).
func Accept4(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return accept(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Int())
}

func accept(t *kernel.Task, fd int32, addr, lenAddr uint64, flags int32) (uintptr, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	s, f, err := getSocket(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	nf, peer, err := s.Accept(t, int(flags))
	if err != nil {
		return 0, err
	}
	defer nf.DecRef(t)
	if err := copyOutSockaddr(t, peer, addr, lenAddr); err != nil {
		return 0, err
	}
	nfd, err := t.FDTable().Install(nf, vfs.FDFlags{CloseOnExec: flags&unix.SOCK_CLOEXEC != 0}, 0)
	return uintptr(nfd), err
}

// Connect implements connect(2).
func Connect(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	var buf [maxSockaddr]byte
	sa, err := copyInSockaddr(t, a[1].Pointer(), a[2].Int(), &buf)
	if err != nil {
		return 0, err
	}
	return 0, s.Connect(t, sa)
}

// Getsockname implements getsockname(2).
func Getsockname(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if a[1].Pointer() == 0 {
		return 0, unix.EFAULT
	}
	return 0, copyOutSockaddr(t, s.SockName(), a[1].Pointer(), a[2].Pointer())
}

// Getpeername implements getpeername(2).
func Getpeername(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	sa, err := s.PeerName()
	if err != nil {
		return 0, err
	}
	if a[1].Pointer() == 0 {
		return 0, unix.EFAULT
	}
	return 0, copyOutSockaddr(t, sa, a[1].Pointer(), a[2].Pointer())
}

// Shutdown implements shutdown(2).
func Shutdown(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	return 0, s.Shutdown(t, int(a[1].Int()))
}

// Setsockopt implements setsockopt(2).
func Setsockopt(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	optlen := a[4].Int()
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	optlen = min(optlen, 4096)
	var small [64]byte
	var val []byte
	if int(optlen) <= len(small) {
		val = small[:optlen]
	} else {
		val = make([]byte, optlen)
	}
	if _, err := t.CopyIn(a[3].Pointer(), val); err != nil {
		return 0, unix.EFAULT
	}
	return 0, s.SetSockOpt(t, int(a[1].Int()), int(a[2].Int()), val)
}

// Getsockopt implements getsockopt(2).
func Getsockopt(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	var lb [4]byte
	if _, err := t.CopyIn(a[4].Pointer(), lb[:]); err != nil {
		return 0, unix.EFAULT
	}
	l := int32(binary.LittleEndian.Uint32(lb[:]))
	if l < 0 {
		return 0, unix.EINVAL
	}
	v, err := s.GetSockOpt(t, int(a[1].Int()), int(a[2].Int()), int(l))
	if err != nil {
		return 0, err
	}
	n := min(int(l), len(v))
	if _, err := t.CopyOut(a[3].Pointer(), v[:n]); err != nil {
		return 0, unix.EFAULT
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(n))
	if _, err := t.CopyOut(a[4].Pointer(), lb[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// msghdr is struct msghdr.
type msghdr struct {
	name       uint64
	namelen    uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      int32
}

func readMsghdr(t *kernel.Task, addr uint64) (msghdr, error) {
	var b [sizeofMsghdr]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return msghdr{}, unix.EFAULT
	}
	le := binary.LittleEndian
	return msghdr{name: le.Uint64(b[0:]), namelen: le.Uint32(b[8:]), iov: le.Uint64(b[16:]),
		iovlen: le.Uint64(b[24:]), control: le.Uint64(b[32:]), controllen: le.Uint64(b[40:]),
		flags: int32(le.Uint32(b[48:]))}, nil
}

// Sendto implements sendto(2).
func Sendto(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var one [1]abi.Iovec
	iovs, total := single(a[1].Pointer(), a[2].Uint64(), &one)
	return sendCommon(t, a[0].Int(), iovs, total, a[4].Pointer(), a[5].Int(), 0, 0, int(a[3].Int()))
}

// Sendmsg implements sendmsg(2).
func Sendmsg(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return sendmsg(t, a[0].Int(), a[1].Pointer(), int(a[2].Int()))
}

func sendmsg(t *kernel.Task, fd int32, addr uint64, flags int) (uintptr, error) {
	m, err := readMsghdr(t, addr)
	if err != nil {
		return 0, err
	}
	if m.iovlen > uioMaxIov {
		return 0, unix.EMSGSIZE
	}
	var small [8]abi.Iovec
	iovs, total, err := readIovecArray(t, m.iov, int32(m.iovlen), &small)
	if err != nil {
		return 0, err
	}
	if m.controllen > maxControl {
		return 0, unix.ENOBUFS
	}
	namelen := int32(m.namelen)
	if m.name == 0 {
		namelen = 0
	}
	return sendCommon(t, fd, iovs, total, m.name, namelen, m.control, m.controllen, flags)
}

func sendCommon(t *kernel.Task, fd int32, iovs []abi.Iovec, total uint64, nameAddr uint64, namelen int32, ctlAddr, ctlLen uint64, flags int) (uintptr, error) {
	s, f, err := getSocket(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	var buf [maxSockaddr]byte
	var to []byte
	if nameAddr != 0 && namelen != 0 {
		if to, err = copyInSockaddr(t, nameAddr, namelen, &buf); err != nil {
			return 0, err
		}
	}
	var ctl socket.ControlMessages
	if ctlLen > 0 {
		if err := parseControl(t, ctlAddr, ctlLen, &ctl); err != nil {
			ctl.Release(t)
			return 0, err
		}
	}
	if f.StatusFlags()&unix.O_NONBLOCK != 0 {
		flags |= unix.MSG_DONTWAIT
	}
	// A large send goes straight from application memory if it can.
	if total >= pinMin && total <= maxStage && len(iovs) == 1 {
		if n, err, ok := sendPinned(t, s, f, iovs[0].Base, total, to, &ctl, ctlLen == 0, flags); ok {
			return n, err
		}
	}
	// Gather the data; a stream send larger than the staging limit goes
	// in chunks (the control messages with the first).
	var done uint64
	iov, pos := 0, uint64(0)
	for {
		chunk := min(total-done, maxStage)
		b := t.Scratch(int(chunk))
		have := 0
		for have < len(b) {
			for iovs[iov].Len == pos {
				iov, pos = iov+1, 0
			}
			n := min(uint64(len(b)-have), iovs[iov].Len-pos)
			if _, err := t.CopyIn(iovs[iov].Base+pos, b[have:have+int(n)]); err != nil {
				ctl.Release(t)
				if done > 0 {
					return uintptr(done), nil
				}
				return 0, unix.EFAULT
			}
			have += int(n)
			pos += n
		}
		n, err := s.SendMsg(t, b, to, &ctl, flags)
		done += uint64(n)
		if err != nil {
			if done > 0 {
				return uintptr(done), nil
			}
			return 0, err
		}
		if done >= total || n < len(b) || s.Type() != unix.SOCK_STREAM {
			return uintptr(done), nil
		}
	}
}

// sendPinned sends straight from application memory at addr (see
// writePinned): one SendMsg from one range of the memory file, or one
// SendVec of up to maxPieces to a stream socket when there is no address
// and no control message (noCtl). ok is false, with nothing sent and
// ctl untouched, if the source cannot be pinned so.
func sendPinned(t *kernel.Task, s socket.Socket, f *vfs.FileDescription, addr, total uint64, to []byte, ctl *socket.ControlMessages, noCtl bool, flags int) (uintptr, error, bool) {
	return outPinned(t, f, addr, total, to == nil && noCtl, flags, func(b []byte) (int, error) {
		return s.SendMsg(t, b, to, ctl, flags)
	})
}

// recvPinned receives straight into application memory at addr (see
// readPinned): one RecvMsg into one range of the memory file, or one
// RecvVec of up to maxPieces from a stream socket without MSG_PEEK,
// MSG_WAITALL or MSG_OOB. ok is false, with nothing received, if the destination
// cannot be pinned so.
func recvPinned(t *kernel.Task, s socket.Socket, f *vfs.FileDescription, addr, total uint64, flags int, res *socket.RecvResult) (error, bool) {
	var small [maxPieces]memfile.Range
	m := t.MemoryManager()
	frs, ok := m.PinForWrite(addr, total, small[:0])
	if !ok {
		return nil, false
	}
	var err error
	if len(frs) == 1 {
		err = s.RecvMsg(t, m.Slice(frs[0]), flags, res)
	} else if sv := streamVec(f); sv != nil && flags&(unix.MSG_PEEK|unix.MSG_WAITALL|unix.MSG_OOB) == 0 {
		var n int
		n, err = vecTransfer(t, sv, frs, true, flags)
		res.N, res.MsgLen = n, n
	} else {
		m.Unpin(frs)
		return nil, false
	}
	m.Unpin(frs)
	return err, true
}

// parseControl reads sendmsg's control messages: SCM_RIGHTS and
// SCM_CREDENTIALS at SOL_SOCKET; other levels are ignored, as Linux's
// __scm_send does for AF_UNIX.
func parseControl(t *kernel.Task, addr, length uint64, ctl *socket.ControlMessages) error {
	b := make([]byte, length)
	if _, err := t.CopyIn(addr, b); err != nil {
		return unix.EFAULT
	}
	le := binary.LittleEndian
	for len(b) >= sizeofCmsghdr {
		l := le.Uint64(b)
		if l < sizeofCmsghdr || l > uint64(len(b)) {
			return unix.EINVAL
		}
		level, typ := int32(le.Uint32(b[8:])), int32(le.Uint32(b[12:]))
		data := b[sizeofCmsghdr:l]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				n := len(data) / 4
				if len(ctl.Rights)+n > scmMaxFD {
					return unix.EINVAL
				}
				for i := 0; i < n; i++ {
					f, _ := t.FDTable().Get(int32(le.Uint32(data[4*i:])))
					if f == nil {
						return unix.EBADF
					}
					ctl.Rights = append(ctl.Rights, f)
				}
			case unix.SCM_CREDENTIALS:
				if len(data) != 12 {
					return unix.EINVAL
				}
				c := socket.Creds{PID: int32(le.Uint32(data)), UID: le.Uint32(data[4:]), GID: le.Uint32(data[8:])}
				if err := checkCreds(t, c); err != nil {
					return err
				}
				// Kept as a root-namespace pid, shown in the
				// receiver's namespace.
				c.PID = int32(t.PIDNamespace().RootID(kernel.ThreadID(c.PID)))
				ctl.Creds, ctl.HasCreds = c, true
			default:
				return unix.EINVAL
			}
		}
		next := (l + 7) &^ 7
		if next >= uint64(len(b)) {
			break
		}
		b = b[next:]
	}
	return nil
}

// checkCreds applies Linux's scm_check_creds: a process may only claim
// its own pid and one of its ids, unless privileged.
func checkCreds(t *kernel.Task, c socket.Creds) error {
	cr := t.Credentials()
	if c.PID != int32(t.Getpid()) && !cr.HasCapability(auth.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	u := auth.KUID(c.UID)
	if u != cr.RealKUID && u != cr.EffectiveKUID && u != cr.SavedKUID && !cr.HasCapability(auth.CAP_SETUID) {
		return unix.EPERM
	}
	g := auth.KGID(c.GID)
	if g != cr.RealKGID && g != cr.EffectiveKGID && g != cr.SavedKGID && !cr.HasCapability(auth.CAP_SETGID) {
		return unix.EPERM
	}
	return nil
}

// Recvfrom implements recvfrom(2).
func Recvfrom(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var one [1]abi.Iovec
	iovs, total := single(a[1].Pointer(), a[2].Uint64(), &one)
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	var res socket.RecvResult
	n, err := recvCommon(t, s, f, iovs, total, int(a[3].Int()), &res)
	res.Control.Release(t)
	if err != nil {
		return 0, err
	}
	if a[4].Pointer() != 0 && res.From != nil {
		if err := copyOutSockaddr(t, res.From, a[4].Pointer(), a[5].Pointer()); err != nil {
			return 0, err
		}
	} else if a[4].Pointer() != 0 && a[5].Pointer() != 0 {
		var lb [4]byte
		if _, err := t.CopyOut(a[5].Pointer(), lb[:]); err != nil {
			return 0, unix.EFAULT
		}
	}
	return n, nil
}

// recvCommon receives into iovs; it returns the count recv(2) reports.
func recvCommon(t *kernel.Task, s socket.Socket, f *vfs.FileDescription, iovs []abi.Iovec, total uint64, flags int, res *socket.RecvResult) (uintptr, error) {
	// Data taken from the socket cannot be put back: check that the
	// destination is writable first.
	for _, iov := range iovs {
		if iov.Len == 0 {
			continue
		}
		var b [1]byte
		if _, err := t.CopyIn(iov.Base, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if _, err := t.CopyOut(iov.Base, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		break
	}
	if f.StatusFlags()&unix.O_NONBLOCK != 0 {
		flags |= unix.MSG_DONTWAIT
	}
	// A large receive goes straight into application memory if it can.
	pinned := false
	if total >= pinMin && total <= maxStage && len(iovs) == 1 {
		var err error
		if err, pinned = recvPinned(t, s, f, iovs[0].Base, total, flags, res); pinned && err != nil {
			return 0, err
		}
	}
	if !pinned {
		buf := t.Scratch(int(min(total, maxStage)))
		if err := s.RecvMsg(t, buf, flags, res); err != nil {
			return 0, err
		}
		// What TCP's MSG_TRUNC took was not copied to buf, which
		// holds stale bytes.
		if !res.Discarded {
			if _, err := scatter(t, iovs, buf[:res.N]); err != nil {
				return 0, unix.EFAULT
			}
		}
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(res.MsgLen), nil
	}
	return uintptr(res.N), nil
}

// Recvmsg implements recvmsg(2).
func Recvmsg(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	s, f, err := getSocket(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	return recvmsg(t, s, f, a[1].Pointer(), int(a[2].Int()))
}

func recvmsg(t *kernel.Task, s socket.Socket, f *vfs.FileDescription, addr uint64, flags int) (uintptr, error) {
	m, err := readMsghdr(t, addr)
	if err != nil {
		return 0, err
	}
	if m.iovlen > uioMaxIov {
		return 0, unix.EMSGSIZE
	}
	var small [8]abi.Iovec
	iovs, total, err := readIovecArray(t, m.iov, int32(m.iovlen), &small)
	if err != nil {
		return 0, err
	}
	var res socket.RecvResult
	n, err := recvCommon(t, s, f, iovs, total, flags&^msgCmsgCloexec, &res)
	if err != nil {
		res.Control.Release(t)
		return 0, err
	}
	le := binary.LittleEndian
	// msg_name and msg_namelen.
	var namelen uint32
	if m.name != 0 && res.From != nil {
		namelen = uint32(len(res.From))
		if c := min(int(m.namelen), len(res.From)); c > 0 {
			if _, err := t.CopyOut(m.name, res.From[:c]); err != nil {
				res.Control.Release(t)
				return 0, unix.EFAULT
			}
		}
	}
	// Linux starts msg_flags from the call's MSG_CMSG_CLOEXEC.
	outFlags := res.Flags | flags&msgCmsgCloexec
	ctlUsed, ctrunc, err := writeControl(t, m.control, m.controllen, &res.Control, flags&msgCmsgCloexec != 0)
	res.Control.Release(t)
	if err != nil {
		return 0, err
	}
	if ctrunc {
		outFlags |= unix.MSG_CTRUNC
	}
	var b [4]byte
	le.PutUint32(b[:], namelen)
	if _, err := t.CopyOut(addr+8, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	var c [8]byte
	le.PutUint64(c[:], ctlUsed)
	if _, err := t.CopyOut(addr+40, c[:]); err != nil {
		return 0, unix.EFAULT
	}
	le.PutUint32(b[:], uint32(outFlags))
	if _, err := t.CopyOut(addr+48, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return n, nil
}

// writeControl formats received control messages into the buffer at
// addr: SCM_CREDENTIALS, then SCM_RIGHTS with as many files installed as
// fit (the rest stay in ctl for the caller to release, and MSG_CTRUNC is
// reported). It returns the bytes used.
func writeControl(t *kernel.Task, addr, length uint64, ctl *socket.ControlMessages, cloexec bool) (uint64, bool, error) {
	var used uint64
	trunc := false
	le := binary.LittleEndian
	if ctl.HasCreds {
		// As Linux's put_cmsg, a message with room for its header
		// but not its data is written cut short (MSG_CTRUNC).
		l := uint64(sizeofCmsghdr + 12)
		if addr == 0 || length-used < sizeofCmsghdr {
			trunc = true
		} else {
			if length-used < l {
				l, trunc = length-used, true
			}
			var b [32]byte
			le.PutUint64(b[0:], l)
			le.PutUint32(b[8:], unix.SOL_SOCKET)
			le.PutUint32(b[12:], unix.SCM_CREDENTIALS)
			le.PutUint32(b[16:], uint32(t.PIDNamespace().IDOfRootID(kernel.ThreadID(ctl.Creds.PID))))
			le.PutUint32(b[20:], ctl.Creds.UID)
			le.PutUint32(b[24:], ctl.Creds.GID)
			if _, err := t.CopyOut(addr+used, b[:l]); err != nil {
				return 0, false, unix.EFAULT
			}
			used += min(uint64(32), length-used)
		}
	}
	if len(ctl.Rights) > 0 {
		room := uint64(0)
		if addr != 0 && length-used > sizeofCmsghdr {
			room = (length - used - sizeofCmsghdr) / 4
		}
		n := min(int(room), len(ctl.Rights))
		if n < len(ctl.Rights) {
			trunc = true
		}
		if n > 0 {
			b := make([]byte, sizeofCmsghdr+4*n)
			fds, err := t.FDTable().InstallMany(ctl.Rights[:n], vfs.FDFlags{CloseOnExec: cloexec}, 0)
			if err != nil {
				// As Linux: the files that cannot be installed are
				// dropped and the message is truncated.
				return used, true, nil
			}
			le.PutUint64(b[0:], uint64(sizeofCmsghdr+4*n))
			le.PutUint32(b[8:], unix.SOL_SOCKET)
			le.PutUint32(b[12:], unix.SCM_RIGHTS)
			for i, fd := range fds {
				le.PutUint32(b[sizeofCmsghdr+4*i:], uint32(fd))
			}
			if _, err := t.CopyOut(addr+used, b); err != nil {
				return 0, false, unix.EFAULT
			}
			used += min((uint64(len(b))+7)&^7, length-used)
		}
	}
	return used, trunc, nil
}

// Sendmmsg implements sendmmsg(2).
func Sendmmsg(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, addr, vlen, flags := a[0].Int(), a[1].Pointer(), a[2].Uint(), int(a[3].Int())
	if _, f, err := getSocket(t, fd); err != nil {
		return 0, err
	} else {
		f.DecRef(t)
	}
	vlen = min(vlen, uioMaxIov)
	var i uint32
	for ; i < vlen; i++ {
		p := addr + uint64(i)*sizeofMmsghdr
		n, err := sendmsg(t, fd, p, flags)
		if err != nil {
			if i > 0 {
				break
			}
			return 0, err
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(n))
		if _, err := t.CopyOut(p+sizeofMsghdr, b[:]); err != nil {
			if i > 0 {
				break
			}
			return 0, unix.EFAULT
		}
	}
	return uintptr(i), nil
}

// Recvmmsg implements recvmmsg(2); the timeout is checked only between
// messages, as Linux does.
func Recvmmsg(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, addr, vlen, flags := a[0].Int(), a[1].Pointer(), a[2].Uint(), int(a[3].Int())
	s, f, err := getSocket(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	vlen = min(vlen, uioMaxIov)
	var i uint32
	for ; i < vlen; i++ {
		p := addr + uint64(i)*sizeofMmsghdr
		n, err := recvmsg(t, s, f, p, flags&^msgWaitForOne)
		if err != nil {
			if i > 0 {
				break
			}
			return 0, err
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(n))
		if _, err := t.CopyOut(p+sizeofMsghdr, b[:]); err != nil {
			if i > 0 {
				break
			}
			return 0, unix.EFAULT
		}
		if flags&msgWaitForOne != 0 {
			flags |= unix.MSG_DONTWAIT
		}
	}
	return uintptr(i), nil
}
