package socket

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Sizes of struct ifreq, its name and struct ifconf.
const (
	sizeofIfreq  = 40
	ifNameSize   = 16
	sizeofIfconf = 16
	// defaultTxQueueLen is what Linux gives lo (and most devices).
	defaultTxQueueLen = 1000
)

// IsInterfaceIoctl reports whether cmd is one of the SIOCGIF* requests
// InterfaceIoctl serves, which Linux answers on a socket of any family
// (sock_ioctl falls back to dev_ioctl).
func IsInterfaceIoctl(cmd uint32) bool {
	switch cmd {
	case unix.SIOCGIFCONF, unix.SIOCGIFFLAGS, unix.SIOCGIFADDR, unix.SIOCGIFNETMASK,
		unix.SIOCGIFINDEX, unix.SIOCGIFNAME, unix.SIOCGIFMTU, unix.SIOCGIFHWADDR,
		unix.SIOCGIFMETRIC, unix.SIOCGIFMAP, unix.SIOCGIFTXQLEN, unix.SIOCGIFBRDADDR,
		unix.SIOCGIFDSTADDR:
		return true
	case unix.SIOCSIFFLAGS, unix.SIOCSIFADDR, unix.SIOCSIFNETMASK, unix.SIOCSIFMTU,
		unix.SIOCSIFHWADDR, unix.SIOCSIFNAME, unix.SIOCSIFBRDADDR, unix.SIOCSIFDSTADDR,
		unix.SIOCSIFMETRIC, unix.SIOCSIFTXQLEN:
		return true
	}
	return false
}

// InterfaceIoctl serves the SIOCGIF* ioctls from the stack of ctx's
// kernel: the interfaces the sandbox sees, never the host's. Setting
// ioctls are refused (EPERM without CAP_NET_ADMIN, else EOPNOTSUPP: the
// sandbox's interfaces are fixed).
func InterfaceIoctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	st := StackOf(ctx)
	var ifaces []Interface
	if st != nil {
		ifaces = st.Interfaces
	}
	if cmd == unix.SIOCGIFCONF {
		return 0, ifconf(ctx, ifaces, arg)
	}
	var req [sizeofIfreq]byte
	if _, err := ctx.CopyIn(arg, req[:]); err != nil {
		return 0, unix.EFAULT
	}
	le := binary.LittleEndian
	if cmd == unix.SIOCGIFNAME {
		idx := int32(le.Uint32(req[ifNameSize:]))
		for i := range ifaces {
			if ifaces[i].Index == idx {
				clear(req[:ifNameSize])
				copy(req[:ifNameSize-1], ifaces[i].Name)
				return 0, copyOutIfreq(ctx, arg, req[:])
			}
		}
		return 0, unix.ENODEV
	}
	req[ifNameSize-1] = 0
	name := req[:ifNameSize]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	var ifc *Interface
	for i := range ifaces {
		if ifaces[i].Name == string(name) {
			ifc = &ifaces[i]
			break
		}
	}
	if ifc == nil {
		return 0, unix.ENODEV
	}
	u := req[ifNameSize:]
	clear(u)
	switch cmd {
	case unix.SIOCGIFFLAGS:
		// ifr_flags is a short: IFF_LOWER_UP does not fit.
		le.PutUint16(u, uint16(ifc.Flags))
	case unix.SIOCGIFINDEX:
		le.PutUint32(u, uint32(ifc.Index))
	case unix.SIOCGIFMTU:
		le.PutUint32(u, ifc.MTU)
	case unix.SIOCGIFMETRIC:
	case unix.SIOCGIFMAP:
	case unix.SIOCGIFTXQLEN:
		le.PutUint32(u, defaultTxQueueLen)
	case unix.SIOCGIFHWADDR:
		le.PutUint16(u, ifc.Type)
		copy(u[2:16], ifc.HWAddr)
	case unix.SIOCGIFADDR, unix.SIOCGIFNETMASK, unix.SIOCGIFBRDADDR, unix.SIOCGIFDSTADDR:
		a := ifc.v4()
		if a == nil {
			return 0, unix.EADDRNOTAVAIL
		}
		le.PutUint16(u, unix.AF_INET)
		switch cmd {
		case unix.SIOCGIFADDR, unix.SIOCGIFDSTADDR:
			copy(u[4:8], a.IP)
		case unix.SIOCGIFNETMASK:
			copy(u[4:8], a.Mask())
		case unix.SIOCGIFBRDADDR:
			if ifc.Flags&unix.IFF_BROADCAST != 0 {
				m := a.Mask()
				for i := 0; i < 4; i++ {
					u[4+i] = a.IP[i] | ^m[i]
				}
			}
		}
	default:
		if cr := ctx.Credentials(); cr == nil || !cr.HasCapability(12) { // CAP_NET_ADMIN
			return 0, unix.EPERM
		}
		return 0, unix.EOPNOTSUPP
	}
	return 0, copyOutIfreq(ctx, arg, req[:])
}

func copyOutIfreq(ctx vfs.Context, arg uint64, req []byte) error {
	if _, err := ctx.CopyOut(arg, req); err != nil {
		return unix.EFAULT
	}
	return nil
}

// v4 is the interface's first IPv4 address, or nil.
func (ifc *Interface) v4() *InterfaceAddr {
	for i := range ifc.Addrs {
		if len(ifc.Addrs[i].IP) == 4 {
			return &ifc.Addrs[i]
		}
	}
	return nil
}

// Mask is the address's netmask.
func (a *InterfaceAddr) Mask() []byte {
	m := make([]byte, len(a.IP))
	for i := 0; i < int(a.PrefixLen) && i < 8*len(m); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// ifconf implements SIOCGIFCONF: one ifreq (name and IPv4 address) per
// IPv4 address of an interface that is up, as Linux's inet_gifconf; a
// NULL buffer asks for the length needed.
func ifconf(ctx vfs.Context, ifaces []Interface, arg uint64) error {
	var hdr [sizeofIfconf]byte
	if _, err := ctx.CopyIn(arg, hdr[:]); err != nil {
		return unix.EFAULT
	}
	le := binary.LittleEndian
	room := int32(le.Uint32(hdr[:]))
	buf := le.Uint64(hdr[8:])
	used := 0
	for i := range ifaces {
		ifc := &ifaces[i]
		if ifc.Flags&unix.IFF_UP == 0 {
			continue
		}
		for _, a := range ifc.Addrs {
			if len(a.IP) != 4 {
				continue
			}
			if buf != 0 {
				if int(room)-used < sizeofIfreq {
					break
				}
				var r [sizeofIfreq]byte
				copy(r[:ifNameSize-1], ifc.Name)
				le.PutUint16(r[ifNameSize:], unix.AF_INET)
				copy(r[ifNameSize+4:], a.IP)
				if _, err := ctx.CopyOut(buf+uint64(used), r[:]); err != nil {
					return unix.EFAULT
				}
			}
			used += sizeofIfreq
		}
	}
	le.PutUint32(hdr[:], uint32(used))
	if _, err := ctx.CopyOut(arg, hdr[:4]); err != nil {
		return unix.EFAULT
	}
	return nil
}
