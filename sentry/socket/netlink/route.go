package netlink

import (
	"encoding/binary"

	linux "golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// rtmMax bounds the rtnetlink message types (RTM_MAX in Linux 6.x is
// below it); larger types are EOPNOTSUPP.
const rtmMax = 0x80

// Linux's values that x/sys/unix lacks.
const (
	ifOperUnknown = 0
	rtaPref       = 20
	ifaFPermanent = 0x80
)

// msgBuf builds netlink messages.
type msgBuf struct{ b []byte }

func align4(n int) int { return (n + 3) &^ 3 }

// begin starts a message and returns its offset for end.
func (m *msgBuf) begin(typ, flags uint16, seq, pid uint32) int {
	start := len(m.b)
	var h [sizeofNlmsghdr]byte
	le := binary.LittleEndian
	le.PutUint16(h[4:], typ)
	le.PutUint16(h[6:], flags)
	le.PutUint32(h[8:], seq)
	le.PutUint32(h[12:], pid)
	m.b = append(m.b, h[:]...)
	return start
}

func (m *msgBuf) put(b ...byte) { m.b = append(m.b, b...) }

func (m *msgBuf) pad() {
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

// attr appends a route attribute.
func (m *msgBuf) attr(typ uint16, data []byte) {
	var h [4]byte
	binary.LittleEndian.PutUint16(h[:], uint16(4+len(data)))
	binary.LittleEndian.PutUint16(h[2:], typ)
	m.b = append(m.b, h[:]...)
	m.b = append(m.b, data...)
	m.pad()
}

func (m *msgBuf) attrU32(typ uint16, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	m.attr(typ, b[:])
}

func (m *msgBuf) attrStr(typ uint16, s string) { m.attr(typ, append([]byte(s), 0)) }

// end sets the length of the message begun at start.
func (m *msgBuf) end(start int) {
	m.pad()
	binary.LittleEndian.PutUint32(m.b[start:], uint32(len(m.b)-start))
}

// handleLocked answers every request in b, as Linux's netlink_rcv_skb:
// a malformed length ends the batch silently.
//
// Preconditions: e.fam.mu is locked.
func (e *endpoint) handleLocked(ctx vfs.Context, b []byte) {
	le := binary.LittleEndian
	for len(b) >= sizeofNlmsghdr {
		l := int(le.Uint32(b))
		if l < sizeofNlmsghdr || l > len(b) {
			return
		}
		msg := b[:l]
		typ, flags, seq := le.Uint16(msg[4:]), le.Uint16(msg[6:]), le.Uint32(msg[8:])
		if flags&linux.NLM_F_REQUEST != 0 {
			var err linux.Errno
			if typ >= linux.NLMSG_MIN_TYPE {
				err = e.requestLocked(ctx, msg, typ, flags, seq)
			}
			if err != 0 || flags&linux.NLM_F_ACK != 0 {
				e.ackLocked(msg, seq, err)
			}
		}
		n := align4(l)
		if n >= len(b) {
			return
		}
		b = b[n:]
	}
}

// requestLocked answers one rtnetlink request.
func (e *endpoint) requestLocked(ctx vfs.Context, msg []byte, typ, flags uint16, seq uint32) linux.Errno {
	if typ >= rtmMax {
		return linux.EOPNOTSUPP
	}
	// Linux's rtnetlink_rcv_msg: kinds other than "get" need
	// CAP_NET_ADMIN.
	if (typ-linux.RTM_BASE)&3 != 2 {
		if cr := ctx.Credentials(); cr == nil || !cr.HasCapability(12) { // CAP_NET_ADMIN
			return linux.EPERM
		}
		return linux.EOPNOTSUPP
	}
	payload := msg[sizeofNlmsghdr:]
	family := uint8(linux.AF_UNSPEC)
	if len(payload) > 0 {
		family = payload[0]
	}
	dump := flags&linux.NLM_F_DUMP == linux.NLM_F_DUMP
	var out msgBuf
	multi := uint16(linux.NLM_F_MULTI)
	switch typ {
	case linux.RTM_GETLINK:
		if dump {
			for i := range e.fam.stack.Interfaces {
				if family == linux.AF_INET6 {
					e.link6(&out, &e.fam.stack.Interfaces[i], seq)
				} else {
					e.link(&out, &e.fam.stack.Interfaces[i], multi, seq)
				}
			}
			break
		}
		ifc := e.findLink(payload)
		if ifc == nil {
			return linux.ENODEV
		}
		e.link(&out, ifc, 0, seq)
		e.pushLocked(out.b)
		return 0
	case linux.RTM_GETADDR:
		if !dump {
			return linux.EOPNOTSUPP
		}
		for i := range e.fam.stack.Interfaces {
			e.addrs(&out, &e.fam.stack.Interfaces[i], family, seq)
		}
	case linux.RTM_GETROUTE:
		if !dump {
			if err := e.routeGet(ctx, &out, payload, seq); err != 0 {
				return err
			}
			e.pushLocked(out.b)
			return 0
		}
		for i := range e.fam.stack.Interfaces {
			e.routes(&out, &e.fam.stack.Interfaces[i], family, seq)
		}
	case linux.RTM_GETRULE:
		if !dump {
			return linux.EOPNOTSUPP
		}
		e.rules(&out, family, seq)
	default:
		if !dump {
			return linux.EOPNOTSUPP
		}
		// Other dumps (neighbours, rules, qdiscs, ...) are empty.
	}
	if len(out.b) > 0 {
		e.pushLocked(out.b)
	}
	// As Linux, NLMSG_DONE comes in a message of its own.
	var done msgBuf
	s := done.begin(linux.NLMSG_DONE, multi, seq, e.portID)
	done.put(0, 0, 0, 0)
	done.end(s)
	e.pushLocked(done.b)
	return 0
}

// findLink finds the interface a non-dump RTM_GETLINK names by index or
// IFLA_IFNAME.
func (e *endpoint) findLink(payload []byte) *socket.Interface {
	if len(payload) < linux.SizeofIfInfomsg {
		return nil
	}
	if idx := int32(binary.LittleEndian.Uint32(payload[4:])); idx > 0 {
		return e.fam.stack.InterfaceByIndex(idx)
	}
	attrs := payload[linux.SizeofIfInfomsg:]
	for len(attrs) >= 4 {
		l := int(binary.LittleEndian.Uint16(attrs))
		t := binary.LittleEndian.Uint16(attrs[2:])
		if l < 4 || l > len(attrs) {
			break
		}
		if t == linux.IFLA_IFNAME {
			name := attrs[4:l]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			return e.fam.stack.InterfaceByName(string(name))
		}
		if align4(l) >= len(attrs) {
			break
		}
		attrs = attrs[align4(l):]
	}
	return nil
}

// link appends an RTM_NEWLINK for ifc.
func (e *endpoint) link(out *msgBuf, ifc *socket.Interface, flags uint16, seq uint32) {
	s := out.begin(linux.RTM_NEWLINK, flags, seq, e.portID)
	var ifi [linux.SizeofIfInfomsg]byte
	le := binary.LittleEndian
	ifi[0] = linux.AF_UNSPEC
	le.PutUint16(ifi[2:], ifc.Type)
	le.PutUint32(ifi[4:], uint32(ifc.Index))
	le.PutUint32(ifi[8:], ifc.Flags|socket.IFFLowerUp)
	out.put(ifi[:]...)
	out.attrStr(linux.IFLA_IFNAME, ifc.Name)
	out.attrU32(linux.IFLA_TXQLEN, 1000)
	out.attr(linux.IFLA_OPERSTATE, []byte{ifOperUnknown})
	out.attr(linux.IFLA_LINKMODE, []byte{0})
	out.attrU32(linux.IFLA_MTU, ifc.MTU)
	out.attrU32(linux.IFLA_GROUP, 0)
	out.attrStr(linux.IFLA_QDISC, "noqueue")
	if ifc.HWAddr != nil {
		out.attr(linux.IFLA_ADDRESS, ifc.HWAddr)
		out.attr(linux.IFLA_BROADCAST, make([]byte, len(ifc.HWAddr)))
	}
	// The sandbox keeps no interface counters: struct
	// rtnl_link_stats64, all zero.
	out.attr(linux.IFLA_STATS64, make([]byte, 25*8))
	out.end(s)
}

// link6 appends the RTM_NEWLINK an AF_INET6 link dump gives (Linux's
// inet6_fill_ifinfo: fewer attributes than the generic one).
func (e *endpoint) link6(out *msgBuf, ifc *socket.Interface, seq uint32) {
	s := out.begin(linux.RTM_NEWLINK, linux.NLM_F_MULTI, seq, e.portID)
	var ifi [linux.SizeofIfInfomsg]byte
	le := binary.LittleEndian
	ifi[0] = linux.AF_INET6
	le.PutUint16(ifi[2:], ifc.Type)
	le.PutUint32(ifi[4:], uint32(ifc.Index))
	le.PutUint32(ifi[8:], ifc.Flags|socket.IFFLowerUp)
	out.put(ifi[:]...)
	out.attrStr(linux.IFLA_IFNAME, ifc.Name)
	if ifc.HWAddr != nil {
		out.attr(linux.IFLA_ADDRESS, ifc.HWAddr)
	}
	out.attrU32(linux.IFLA_MTU, ifc.MTU)
	out.attr(linux.IFLA_OPERSTATE, []byte{ifOperUnknown})
	out.attrU32(linux.IFLA_TXQLEN, 1000)
	out.end(s)
}

// rules appends the policy routing rules of a fresh network namespace:
// local, main and (IPv4 only) default.
func (e *endpoint) rules(out *msgBuf, family uint8, seq uint32) {
	for _, af := range []uint8{linux.AF_INET, linux.AF_INET6} {
		if family != linux.AF_UNSPEC && family != af {
			continue
		}
		for _, r := range []struct {
			prio  uint32
			table uint8
		}{{0, linux.RT_TABLE_LOCAL}, {32766, linux.RT_TABLE_MAIN}, {32767, linux.RT_TABLE_DEFAULT}} {
			if af == linux.AF_INET6 && r.table == linux.RT_TABLE_DEFAULT {
				continue
			}
			s := out.begin(linux.RTM_NEWRULE, linux.NLM_F_MULTI, seq, e.portID)
			// struct fib_rule_hdr; action FR_ACT_TO_TBL.
			out.put(af, 0, 0, 0, r.table, 0, 0, 1, 0, 0, 0, 0)
			out.attrU32(linux.FRA_TABLE, uint32(r.table))
			if r.prio != 0 {
				out.attrU32(linux.FRA_PRIORITY, r.prio)
			}
			out.attr(linux.FRA_PROTOCOL, []byte{linux.RTPROT_KERNEL})
			out.end(s)
		}
	}
}

// scopeOf is the scope Linux gives an address: host for loopback.
func scopeOf(ifc *socket.Interface, ip []byte) uint8 {
	if ifc.Flags&linux.IFF_LOOPBACK != 0 {
		return linux.RT_SCOPE_HOST
	}
	if len(ip) == 16 && ip[0] == 0xfe && ip[1]&0xc0 == 0x80 {
		return linux.RT_SCOPE_LINK
	}
	return linux.RT_SCOPE_UNIVERSE
}

// addrs appends an RTM_NEWADDR for each address of ifc in family.
func (e *endpoint) addrs(out *msgBuf, ifc *socket.Interface, family uint8, seq uint32) {
	for _, a := range ifc.Addrs {
		af := uint8(linux.AF_INET)
		if len(a.IP) == 16 {
			af = linux.AF_INET6
		}
		if family != linux.AF_UNSPEC && family != af {
			continue
		}
		s := out.begin(linux.RTM_NEWADDR, linux.NLM_F_MULTI, seq, e.portID)
		var ifa [linux.SizeofIfAddrmsg]byte
		ifa[0], ifa[1], ifa[2], ifa[3] = af, a.PrefixLen, ifaFPermanent, scopeOf(ifc, a.IP)
		binary.LittleEndian.PutUint32(ifa[4:], uint32(ifc.Index))
		out.put(ifa[:]...)
		out.attr(linux.IFA_ADDRESS, a.IP)
		if af == linux.AF_INET {
			out.attr(linux.IFA_LOCAL, a.IP)
			out.attrStr(linux.IFA_LABEL, ifc.Name)
		}
		var ci [16]byte
		binary.LittleEndian.PutUint32(ci[0:], 0xffffffff)
		binary.LittleEndian.PutUint32(ci[4:], 0xffffffff)
		out.attr(linux.IFA_CACHEINFO, ci[:])
		out.attrU32(linux.IFA_FLAGS, ifaFPermanent)
		out.end(s)
	}
}

// route appends one RTM_NEWROUTE.
func (e *endpoint) route(out *msgBuf, seq uint32, af, dstLen, table, proto, scope, rtype uint8, dst, prefsrc []byte, oif int32, prio uint32) {
	s := out.begin(linux.RTM_NEWROUTE, linux.NLM_F_MULTI, seq, e.portID)
	out.put(af, dstLen, 0, 0, table, proto, scope, rtype, 0, 0, 0, 0)
	out.attrU32(linux.RTA_TABLE, uint32(table))
	if dst != nil {
		out.attr(linux.RTA_DST, dst)
	}
	if prio != 0 {
		out.attrU32(linux.RTA_PRIORITY, prio)
	}
	if prefsrc != nil {
		out.attr(linux.RTA_PREFSRC, prefsrc)
	}
	out.attrU32(linux.RTA_OIF, uint32(oif))
	if af == linux.AF_INET6 {
		out.attr(rtaPref, []byte{0})
	}
	out.end(s)
}

// routes appends the routes Linux derives from ifc's addresses: for an
// IPv4 address its local and prefix routes (the prefix route of a
// loopback address is a local one), for IPv6 its prefix route in the
// main table (none for lo, as a fresh Linux network namespace shows) and
// its local route.
func (e *endpoint) routes(out *msgBuf, ifc *socket.Interface, family uint8, seq uint32) {
	lo := ifc.Flags&linux.IFF_LOOPBACK != 0
	for _, a := range ifc.Addrs {
		m := a.Mask()
		net := make([]byte, len(a.IP))
		for i := range net {
			net[i] = a.IP[i] & m[i]
		}
		if len(a.IP) == 4 {
			if family != linux.AF_UNSPEC && family != linux.AF_INET {
				continue
			}
			if lo {
				e.route(out, seq, linux.AF_INET, a.PrefixLen, linux.RT_TABLE_LOCAL, linux.RTPROT_KERNEL, linux.RT_SCOPE_HOST, linux.RTN_LOCAL, net, a.IP, ifc.Index, 0)
			} else if a.PrefixLen < 32 {
				e.route(out, seq, linux.AF_INET, a.PrefixLen, linux.RT_TABLE_MAIN, linux.RTPROT_KERNEL, linux.RT_SCOPE_LINK, linux.RTN_UNICAST, net, a.IP, ifc.Index, 0)
			}
			e.route(out, seq, linux.AF_INET, 32, linux.RT_TABLE_LOCAL, linux.RTPROT_KERNEL, linux.RT_SCOPE_HOST, linux.RTN_LOCAL, a.IP, a.IP, ifc.Index, 0)
			if a.PrefixLen < 31 {
				bc := make([]byte, 4)
				for i := range bc {
					bc[i] = a.IP[i] | ^m[i]
				}
				e.route(out, seq, linux.AF_INET, 32, linux.RT_TABLE_LOCAL, linux.RTPROT_KERNEL, linux.RT_SCOPE_LINK, linux.RTN_BROADCAST, bc, a.IP, ifc.Index, 0)
			}
			continue
		}
		if family != linux.AF_UNSPEC && family != linux.AF_INET6 {
			continue
		}
		if !lo {
			e.route(out, seq, linux.AF_INET6, a.PrefixLen, linux.RT_TABLE_MAIN, linux.RTPROT_KERNEL, linux.RT_SCOPE_UNIVERSE, linux.RTN_UNICAST, net, nil, ifc.Index, 256)
		}
		e.route(out, seq, linux.AF_INET6, 128, linux.RT_TABLE_LOCAL, linux.RTPROT_KERNEL, linux.RT_SCOPE_UNIVERSE, linux.RTN_LOCAL, a.IP, nil, ifc.Index, 0)
	}
}

// ackLocked queues an NLMSG_ERROR for the request msg: an
// acknowledgement (err 0, only the request's header, NLM_F_CAPPED) or an
// error carrying the whole request unless NETLINK_CAP_ACK is set, as
// Linux's netlink_ack.
func (e *endpoint) ackLocked(msg []byte, seq uint32, err linux.Errno) {
	var out msgBuf
	flags := uint16(0)
	req := msg
	if err == 0 || e.opts[linux.NETLINK_CAP_ACK] != 0 {
		flags = linux.NLM_F_CAPPED
		req = msg[:sizeofNlmsghdr]
	}
	s := out.begin(linux.NLMSG_ERROR, flags, seq, e.portID)
	var code [4]byte
	binary.LittleEndian.PutUint32(code[:], uint32(-int32(err)))
	out.put(code[:]...)
	out.put(req...)
	out.end(s)
	e.pushLocked(out.b)
}

// pushLocked queues one reply datagram, or reports ENOBUFS (as Linux's
// netlink_overrun) when the receive buffer is full, so that a client
// that never reads cannot grow the queue without bound.
func (e *endpoint) pushLocked(b []byte) {
	if e.rq.Count() > 0 && e.rq.Bytes+len(b) > e.rcvbuf {
		e.soErr = linux.ENOBUFS
		e.Notify(vfs.EventErr)
		return
	}
	e.rq.Push(socket.Message[uint32]{Data: append(e.rq.Buf(len(b)), b...)})
	e.Notify(vfs.ReadableEvents)
}

// routeGet answers an IPv4 route lookup (ip route get) from the
// interfaces: a local route for one of their addresses or a loopback
// prefix, a link route inside another interface's prefix, ENETUNREACH
// elsewhere (the sandbox knows no gateway).
func (e *endpoint) routeGet(ctx vfs.Context, out *msgBuf, payload []byte, seq uint32) linux.Errno {
	if len(payload) < linux.SizeofRtMsg || payload[0] != linux.AF_INET {
		return linux.EOPNOTSUPP
	}
	var dst []byte
	attrs := payload[linux.SizeofRtMsg:]
	for len(attrs) >= 4 {
		l := int(binary.LittleEndian.Uint16(attrs))
		if l < 4 || l > len(attrs) {
			break
		}
		if binary.LittleEndian.Uint16(attrs[2:]) == linux.RTA_DST && l == 8 {
			dst = attrs[4:8]
		}
		if align4(l) >= len(attrs) {
			break
		}
		attrs = attrs[align4(l):]
	}
	if dst == nil {
		dst = []byte{0, 0, 0, 0}
	}
	var ifc *socket.Interface
	var src []byte
	rtype := uint8(linux.RTN_UNICAST)
	for i := range e.fam.stack.Interfaces {
		c := &e.fam.stack.Interfaces[i]
		for _, a := range c.Addrs {
			if len(a.IP) != 4 {
				continue
			}
			m := a.Mask()
			in := true
			for j := 0; j < 4; j++ {
				in = in && dst[j]&m[j] == a.IP[j]&m[j]
			}
			local := string(dst) == string(a.IP) || in && c.Flags&linux.IFF_LOOPBACK != 0
			if local || in && ifc == nil {
				ifc, src = c, a.IP
				if local {
					rtype = linux.RTN_LOCAL
				}
			}
			if local {
				break
			}
		}
		if rtype == linux.RTN_LOCAL {
			break
		}
	}
	if ifc == nil {
		return linux.ENETUNREACH
	}
	if rtype == linux.RTN_LOCAL {
		for i := range e.fam.stack.Interfaces {
			if c := &e.fam.stack.Interfaces[i]; c.Flags&linux.IFF_LOOPBACK != 0 {
				ifc = c
				break
			}
		}
	}
	flags := uint32(linux.RTM_F_CLONED)
	if rtype == linux.RTN_LOCAL {
		flags |= 0x80000000 // RTCF_LOCAL
	}
	s := out.begin(linux.RTM_NEWROUTE, 0, seq, e.portID)
	out.put(linux.AF_INET, 32, 0, 0, 0, 0, 0, rtype)
	var fl [4]byte
	binary.LittleEndian.PutUint32(fl[:], flags)
	out.put(fl[:]...)
	out.attr(linux.RTA_DST, dst)
	out.attrU32(linux.RTA_OIF, uint32(ifc.Index))
	out.attr(linux.RTA_PREFSRC, src)
	var uid uint32
	if cr := ctx.Credentials(); cr != nil {
		uid = uint32(cr.EffectiveKUID)
	}
	out.attrU32(linux.RTA_UID, uid)
	out.attr(linux.RTA_CACHEINFO, make([]byte, 32))
	out.end(s)
	return 0
}
