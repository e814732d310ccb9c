package hostinet

import (
	"net"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// HostInterfaces reads the host's interfaces for a --network=host
// sandbox, once at start-up (before the sentry's seccomp filter): netlink
// and the SIOCGIF ioctls then answer from this copy.
func HostInterfaces() ([]socket.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []socket.Interface
	for _, ifc := range ifs {
		si := socket.Interface{Index: int32(ifc.Index), Name: ifc.Name, MTU: uint32(ifc.MTU), Type: unix.ARPHRD_ETHER, HWAddr: ifc.HardwareAddr}
		if ifc.Flags&net.FlagUp != 0 {
			si.Flags |= unix.IFF_UP
		}
		if ifc.Flags&net.FlagRunning != 0 {
			si.Flags |= unix.IFF_RUNNING
		}
		if ifc.Flags&net.FlagLoopback != 0 {
			si.Flags |= unix.IFF_LOOPBACK
			si.Type = unix.ARPHRD_LOOPBACK
			si.HWAddr = make([]byte, 6)
		}
		if ifc.Flags&net.FlagBroadcast != 0 {
			si.Flags |= unix.IFF_BROADCAST
		}
		if ifc.Flags&net.FlagPointToPoint != 0 {
			si.Flags |= unix.IFF_POINTOPOINT
		}
		if ifc.Flags&net.FlagMulticast != 0 {
			si.Flags |= unix.IFF_MULTICAST
		}
		if si.HWAddr == nil {
			si.Type = unix.ARPHRD_NONE
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			ip := ipn.IP.To4()
			if ip == nil {
				ip = ipn.IP.To16()
			}
			si.Addrs = append(si.Addrs, socket.InterfaceAddr{IP: append([]byte(nil), ip...), PrefixLen: uint8(ones)})
		}
		out = append(out, si)
	}
	return out, nil
}
