package socket

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Stack is one sandbox's network: the providers of its address families
// (each holding its own sockets' state: unix name tables, inet port
// tables, their locks) and the interfaces it shows to the application.
// The Kernel owns it (kernel.Kernel.Network); nothing about the network
// lives in package variables.
//
// Lock order: a Stack has no lock of its own. providers and Interfaces
// are set while the stack is built (NewStack, Register), before the
// kernel starts, and only read afterwards. Each family documents its own
// locks.
type Stack struct {
	// providers maps an address family to its provider; written only
	// before the stack is shared.
	providers map[int]Provider
	// Interfaces are the network interfaces the sandbox sees, in index
	// order; immutable after NewStack.
	Interfaces []Interface
	// Host is true for --network=host: AF_INET and AF_INET6 are host
	// sockets.
	Host bool
	// Sysctl reads the first field of one of the sandbox's sysctls (a
	// path below /proc/sys, 0 if it has none), for the families that
	// obey one; nil leaves each at Linux's default. Set before the
	// stack is shared.
	Sysctl func(path string) uint64
}

// Interface is one network interface as netlink and the SIOCGIF ioctls
// report it.
type Interface struct {
	Index int32
	Name  string
	// Flags are the IFF_* flags (IFF_UP, IFF_LOOPBACK, IFF_RUNNING, ...).
	Flags uint32
	MTU   uint32
	// Type is the ARPHRD_* hardware type; HWAddr its hardware address.
	Type   uint16
	HWAddr []byte
	Addrs  []InterfaceAddr
}

// InterfaceAddr is one address of an interface: IP is 4 or 16 bytes.
type InterfaceAddr struct {
	IP        []byte
	PrefixLen uint8
}

// Linux's flags of lo: IFF_UP|IFF_LOOPBACK|IFF_RUNNING, and
// IFF_LOWER_UP, which only netlink reports.
const (
	LoopbackFlags = unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING
	IFFLowerUp    = 0x10000
)

// Loopback is the lo of a sandbox without a network (--network=none).
func Loopback() Interface {
	return Interface{
		Index: 1, Name: "lo", Flags: LoopbackFlags, MTU: 65536, Type: unix.ARPHRD_LOOPBACK,
		HWAddr: make([]byte, 6),
		Addrs: []InterfaceAddr{
			{IP: []byte{127, 0, 0, 1}, PrefixLen: 8},
			{IP: []byte{15: 1}, PrefixLen: 128},
		},
	}
}

// NewStack makes an empty stack showing ifaces; the caller registers the
// families before handing it to the kernel.
func NewStack(ifaces []Interface, host bool) *Stack {
	return &Stack{providers: map[int]Provider{}, Interfaces: ifaces, Host: host}
}

// Register makes p the provider of family. It must be called before the
// stack is shared.
func (s *Stack) Register(family int, p Provider) {
	s.providers[family] = p
}

// ProviderOf returns the provider of family, or EAFNOSUPPORT.
func (s *Stack) ProviderOf(family int) (Provider, error) {
	if s == nil {
		return nil, unix.EAFNOSUPPORT
	}
	p := s.providers[family]
	if p == nil {
		return nil, unix.EAFNOSUPPORT
	}
	return p, nil
}

// InterfaceByIndex returns the interface of index, or nil.
func (s *Stack) InterfaceByIndex(index int32) *Interface {
	for i := range s.Interfaces {
		if s.Interfaces[i].Index == index {
			return &s.Interfaces[i]
		}
	}
	return nil
}

// InterfaceByName returns the interface called name, or nil.
func (s *Stack) InterfaceByName(name string) *Interface {
	for i := range s.Interfaces {
		if s.Interfaces[i].Name == name {
			return &s.Interfaces[i]
		}
	}
	return nil
}

// StackOf returns the network stack of the kernel ctx runs in, or nil
// for a context that is not a task or a kernel without a network.
func StackOf(ctx vfs.Context) *Stack {
	t, ok := ctx.(*kernel.Task)
	if !ok {
		return nil
	}
	return KernelStack(t.Kernel())
}

// KernelStack returns k's network stack, or nil.
func KernelStack(k *kernel.Kernel) *Stack {
	s, _ := k.Network.(*Stack)
	return s
}

// InetInfo describes one TCP or UDP socket as /proc/net/{tcp,udp}[6]
// show it.
type InetInfo struct {
	Protocol int
	// LocalIP and RemoteIP are 4 bytes for an AF_INET socket, 16 for
	// AF_INET6.
	LocalIP, RemoteIP     []byte
	LocalPort, RemotePort uint16
	// State is Linux's TCP state number (TCP_ESTABLISHED, TCP_LISTEN,
	// TCP_CLOSE for an unconnected UDP socket, ...).
	State            int
	TxQueue, RxQueue int
	UID              uint32
	Ino              uint64
}

// Linux's TCP states, as /proc/net shows them.
const (
	TCPEstablished = 1
	TCPSynSent     = 2
	TCPFinWait2    = 5
	TCPTimeWait    = 6
	TCPClose       = 7
	TCPCloseWait   = 8
	TCPListen      = 10
)

// UnixInfo describes one unix socket as /proc/net/unix shows it.
type UnixInfo struct {
	Listening bool
	Type      int
	// State is SS_UNCONNECTED (1), SS_CONNECTING (2, not yet accepted)
	// or SS_CONNECTED (3).
	State int
	Ino   uint64
	// Addr is the bound sockaddr_un, nil if unbound.
	Addr []byte
}

// InetLister is implemented by the providers of AF_INET and AF_INET6
// whose sockets /proc/net shows: the sockets of that family and protocol.
type InetLister interface {
	InetSockets(protocol int) []InetInfo
}

// UnixLister is implemented by the AF_UNIX provider.
type UnixLister interface {
	UnixSockets() []UnixInfo
}

// InetSockets returns the sockets of family and protocol, for
// /proc/net/{tcp,udp}[6].
func (s *Stack) InetSockets(family, protocol int) []InetInfo {
	if p, err := s.ProviderOf(family); err == nil {
		if l, ok := p.(InetLister); ok {
			return l.InetSockets(protocol)
		}
	}
	return nil
}

// UnixSockets returns the unix sockets, for /proc/net/unix.
func (s *Stack) UnixSockets() []UnixInfo {
	if p, err := s.ProviderOf(unix.AF_UNIX); err == nil {
		if l, ok := p.(UnixLister); ok {
			return l.UnixSockets()
		}
	}
	return nil
}
