package inet

import (
	"encoding/binary"

	linux "golang.org/x/sys/unix"
)

// addr is an IP address and port; IPv4 addresses are held IPv4-mapped
// (::ffff:a.b.c.d), so that IPv6 sockets can talk to IPv4 ones.
type addr struct {
	ip   [16]byte
	port uint16
}

var v4Prefix = [12]byte{10: 0xff, 11: 0xff}

func (a addr) isV4() bool { return [12]byte(a.ip[:12]) == v4Prefix }

// isAny reports the wildcard address (0.0.0.0 or ::).
func (a addr) isAny() bool {
	if a.isV4() {
		return a.ip[12]|a.ip[13]|a.ip[14]|a.ip[15] == 0
	}
	return a.ip == [16]byte{}
}

// isLoopback reports 127.0.0.0/8 and ::1.
func (a addr) isLoopback() bool {
	if a.isV4() {
		return a.ip[12] == 127
	}
	return a.ip == [16]byte{15: 1}
}

func v4(b []byte) [16]byte {
	var ip [16]byte
	copy(ip[:], v4Prefix[:])
	copy(ip[12:], b)
	return ip
}

// loopbackFor is the source address a socket of family uses to reach dst:
// 127.0.0.1 for IPv4 destinations, ::1 otherwise.
func loopbackFor(dst addr) [16]byte {
	if dst.isV4() {
		return v4([]byte{127, 0, 0, 1})
	}
	return [16]byte{15: 1}
}

// parseAddr decodes a sockaddr for a socket of family. unspec reports
// an AF_UNSPEC address (connect's "disconnect").
func parseAddr(family int, b []byte) (a addr, unspec bool, err error) {
	if len(b) >= 2 && binary.LittleEndian.Uint16(b) == linux.AF_UNSPEC {
		if len(b) < 16 && family == linux.AF_INET {
			return addr{}, false, linux.EINVAL
		}
		unspec = true
		if family == linux.AF_INET {
			// Linux's inet_bind takes AF_UNSPEC with INADDR_ANY as
			// AF_INET.
			a = addr{ip: v4(b[4:8]), port: binary.BigEndian.Uint16(b[2:])}
		}
		return a, true, nil
	}
	if family == linux.AF_INET {
		if len(b) < linux.SizeofSockaddrInet4 {
			return addr{}, false, linux.EINVAL
		}
		if binary.LittleEndian.Uint16(b) != linux.AF_INET {
			return addr{}, false, linux.EAFNOSUPPORT
		}
		return addr{ip: v4(b[4:8]), port: binary.BigEndian.Uint16(b[2:])}, false, nil
	}
	// SIN6_LEN_RFC2133: sin6_scope_id may be missing.
	if len(b) < 24 {
		return addr{}, false, linux.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != linux.AF_INET6 {
		return addr{}, false, linux.EAFNOSUPPORT
	}
	a.port = binary.BigEndian.Uint16(b[2:])
	copy(a.ip[:], b[8:24])
	return a, false, nil
}

// format encodes a as a sockaddr of family (an IPv4 address in an IPv6
// socket's sockaddr is IPv4-mapped).
func (a addr) format(family int) []byte {
	if family == linux.AF_INET {
		b := make([]byte, linux.SizeofSockaddrInet4)
		binary.LittleEndian.PutUint16(b, linux.AF_INET)
		binary.BigEndian.PutUint16(b[2:], a.port)
		copy(b[4:8], a.ip[12:])
		return b
	}
	b := make([]byte, linux.SizeofSockaddrInet6)
	binary.LittleEndian.PutUint16(b, linux.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], a.port)
	copy(b[8:24], a.ip[:])
	return b
}
