// Package gofer owns the gofer: the separate host process that is the only
// part of Rampart that opens container files, and the protocol that the
// sentry's client filesystem (fs/gofer) speaks to it.
//
// Wire format. The two ends share a SOCK_SEQPACKET unix socketpair; each
// packet is one message:
//
//	u32 size   total length of the message, header included
//	u32 tag    request id chosen by the client; the reply carries it back
//	u16 type   message type (T* requests, R* = T*|rBit replies, rError)
//	u16 pad    zero
//	payload    little-endian fields; strings are u32 length + bytes
//
// Many requests may be in flight; the server answers each as soon as it is
// done, in any order. A reply may carry one host file descriptor, donated
// with SCM_RIGHTS (open and create of regular files; host unix sockets of
// Tconnect and Tbind, server_socket.go). The first exchange is
// Tversion/Rversion, which fixes the protocol version and the largest
// message. Tclunk (tag 0) is one-way: it has no reply.
//
// The decoder never panics: a short or oversized message, a bad string
// length or an unknown type is an error, and the server closes the
// connection on it rather than guessing.
package gofer

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Version is the protocol version this package speaks. Both ends come
// from one runsc binary; the number changes whenever the wire format
// does (2: Tconnect and Tbind; 3: Tclunks; 4: the flags of TWalkNames
// and TGetdentsWalk, and their results' flag byte), so that a mismatch is
// refused at Tversion rather than met as a malformed message later.
const Version = 5

// WalkXattrs, in the Flags of a TWalkNames or TGetdentsWalk, asks the gofer
// to say of each file walked whether it has no extended attribute the
// sandbox can see (NameResult.NoXattr), so that a client that knows
// nothing else changes them can answer getxattr and listxattr of those
// files itself (ls -l asks for every file's security.selinux). It costs
// the gofer one listxattrat per file (Linux 6.13; older kernels answer
// nothing).
const WalkXattrs uint32 = 1

// HeaderSize is the size of a message header.
const HeaderSize = 12

// MaxMessage is the largest message either side accepts.
const MaxMessage = 1 << 16

// MaxName is the largest single path component; MaxPath the largest symlink
// target (Linux's NAME_MAX and PATH_MAX).
const (
	MaxName = 255
	MaxPath = 4096
	// MaxWalk is the largest number of components in one Twalk.
	MaxWalk = 64
)

// Message types.
const (
	TVersion uint16 = iota + 1
	TAttach
	TWalk
	TStat
	TOpen
	TReadlink
	TGetdents
	TStatFS
	TClunk
	TCreate
	TMkdir
	TMknod
	TSymlink
	TLink
	TUnlink
	TRename
	TSetStat
	TGetXattr
	TListXattr
	TSetXattr
	TRemoveXattr
	// TConnect and TBind are host unix sockets (server_socket.go,
	// protocol version 2).
	TConnect
	TBind
	tLast

	// rBit marks a reply; RError is the error reply to any request.
	rBit   uint16 = 0x8000
	RError uint16 = 0x7fff

	// Unnamed files. These have numbers of their own, so that types
	// added to the list above do not move them.
	//
	// TTmpfile makes a regular file with no name in directory FID
	// (open(O_TMPFILE)): Mode, UID, GID as Tcreate. The reply is its
	// fid and attributes, with a read-write descriptor donated; Tlink
	// with the fid as target names it.
	TTmpfile uint16 = 0x40
	// TStatAt returns the attributes of Name in directory FID without
	// a fid: revalidation of a cached name (shared file access) costs
	// one stat on the host and nothing to clunk.
	TStatAt uint16 = 0x41
	// TClunks releases the fids FIDs (u16 count, at most MaxClunks,
	// then u64 each): Tclunk for many, one-way too. The client gathers
	// the fids of dropped nodes and sends them together, saving the
	// gofer a wake-up per fid (an unlinked file's, at every unlink).
	TClunks uint16 = 0x42
	// TWalkOpen is Twalk of one name (Name) in directory FID that also
	// opens the node reached, if it is a regular file, as Topen with
	// Flags would: a client about to open a name it has not looked up
	// (an open(2) of an uncached path) pays one round trip, not two. The
	// reply is the fid and attributes, then a byte that is 1 if a
	// descriptor is donated. An open that fails is not an error of the
	// walk: the reply has no descriptor, and a later Topen says why.
	TWalkOpen uint16 = 0x43
	// TWalkNames looks up several names of one directory (siblings, not
	// a path) in one round trip: the client sends names of a listing it
	// is about to look up, and gets a fid and attributes for each, or
	// its errno. Its number is fixed apart from the iota list so that
	// types added there do not move it.
	TWalkNames uint16 = 0x100
	// TGetdentsWalk is Tgetdents that also looks up every entry it
	// returns (but "." and ".."), as TWalkNames would, in the same
	// reply: for a client that will look the entries up (find, ls -l).
	TGetdentsWalk uint16 = 0x101
)

// MaxClunks is the largest number of fids in one TClunks.
const MaxClunks = 1024

// MaxWalkNames is the largest number of names in one TWalkNames (its
// reply, a fid and attributes per name, must fit in MaxMessage).
const MaxWalkNames = 256

// ErrMalformed is returned for any message that does not decode.
var ErrMalformed = errors.New("gofer: malformed message")

// Attr is a file's attributes, as fstatat reports them on the host.
type Attr struct {
	Mode, UID, GID      uint32
	Nlink               uint64
	Ino, Dev, Rdev      uint64
	Size, Blocks        int64
	Blksize             int64
	Atime, Mtime, Ctime unix.Timespec
}

// AttrFromStat converts a host stat.
func AttrFromStat(st *unix.Stat_t) Attr {
	return Attr{
		Mode: st.Mode, UID: st.Uid, GID: st.Gid, Nlink: st.Nlink,
		Ino: st.Ino, Dev: st.Dev, Rdev: st.Rdev, Size: st.Size, Blocks: st.Blocks,
		Blksize: st.Blksize, Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim,
	}
}

// Stat converts back to the host's struct.
func (a *Attr) Stat() unix.Stat_t {
	return unix.Stat_t{
		Mode: a.Mode, Uid: a.UID, Gid: a.GID, Nlink: a.Nlink, Ino: a.Ino, Dev: a.Dev,
		Rdev: a.Rdev, Size: a.Size, Blocks: a.Blocks, Blksize: a.Blksize,
		Atim: a.Atime, Mtim: a.Mtime, Ctim: a.Ctime,
	}
}

// Encoder appends little-endian fields to a message buffer.
type Encoder struct{ B []byte }

// U8 appends v.
func (e *Encoder) U8(v uint8) { e.B = append(e.B, v) }

// U16 appends v.
func (e *Encoder) U16(v uint16) { e.B = append(e.B, byte(v), byte(v>>8)) }

// U32 appends v.
func (e *Encoder) U32(v uint32) {
	e.B = append(e.B, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// U64 appends v.
func (e *Encoder) U64(v uint64) { e.U32(uint32(v)); e.U32(uint32(v >> 32)) }

// Str appends a length-prefixed string.
func (e *Encoder) Str(s string) { e.U32(uint32(len(s))); e.B = append(e.B, s...) }

// Bytes appends a length-prefixed byte string.
func (e *Encoder) Bytes(b []byte) { e.U32(uint32(len(b))); e.B = append(e.B, b...) }

func (e *Encoder) ts(t unix.Timespec) { e.U64(uint64(t.Sec)); e.U64(uint64(t.Nsec)) }

// Attr appends a.
func (e *Encoder) Attr(a *Attr) {
	e.U32(a.Mode)
	e.U32(a.UID)
	e.U32(a.GID)
	e.U64(a.Nlink)
	e.U64(a.Ino)
	e.U64(a.Dev)
	e.U64(a.Rdev)
	e.U64(uint64(a.Size))
	e.U64(uint64(a.Blocks))
	e.U64(uint64(a.Blksize))
	e.ts(a.Atime)
	e.ts(a.Mtime)
	e.ts(a.Ctime)
}

// Start begins a message of type typ with tag.
func (e *Encoder) Start(tag uint32, typ uint16) {
	e.B = e.B[:0]
	e.U32(0)
	e.U32(tag)
	e.U16(typ)
	e.U16(0)
}

// Finish fills in the size; it fails if the message is too large.
func (e *Encoder) Finish() error {
	if len(e.B) > MaxMessage {
		return unix.EMSGSIZE
	}
	n := uint32(len(e.B))
	e.B[0], e.B[1], e.B[2], e.B[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return nil
}

// Decoder reads fields from a message; after the first error every read
// returns zero and Err reports ErrMalformed.
type Decoder struct {
	b   []byte
	bad bool
}

// NewDecoder decodes the payload p.
func NewDecoder(p []byte) *Decoder { return &Decoder{b: p} }

// Err reports whether a read ran past the end or met a bad length.
func (d *Decoder) Err() error {
	if d.bad {
		return ErrMalformed
	}
	return nil
}

// Done fails unless the whole payload was consumed.
func (d *Decoder) Done() error {
	if d.bad || len(d.b) != 0 {
		return ErrMalformed
	}
	return nil
}

func (d *Decoder) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

// U8 reads a byte.
func (d *Decoder) U8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

// U16 reads a u16.
func (d *Decoder) U16() uint16 {
	if p := d.take(2); p != nil {
		return uint16(p[0]) | uint16(p[1])<<8
	}
	return 0
}

// U32 reads a u32.
func (d *Decoder) U32() uint32 {
	if p := d.take(4); p != nil {
		return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
	}
	return 0
}

// U64 reads a u64.
func (d *Decoder) U64() uint64 { lo := d.U32(); return uint64(lo) | uint64(d.U32())<<32 }

// Bytes reads a length-prefixed byte string of at most max bytes (aliasing
// the message).
func (d *Decoder) Bytes(max int) []byte {
	n := d.U32()
	if d.bad || uint64(n) > uint64(max) {
		d.bad = true
		return nil
	}
	return d.take(int(n))
}

// Str reads a length-prefixed string of at most max bytes.
func (d *Decoder) Str(max int) string { return string(d.Bytes(max)) }

func (d *Decoder) ts() unix.Timespec {
	return unix.Timespec{Sec: int64(d.U64()), Nsec: int64(d.U64())}
}

// Attr reads an Attr.
func (d *Decoder) Attr() Attr {
	var a Attr
	a.Mode = d.U32()
	a.UID = d.U32()
	a.GID = d.U32()
	a.Nlink = d.U64()
	a.Ino = d.U64()
	a.Dev = d.U64()
	a.Rdev = d.U64()
	a.Size = int64(d.U64())
	a.Blocks = int64(d.U64())
	a.Blksize = int64(d.U64())
	a.Atime = d.ts()
	a.Mtime = d.ts()
	a.Ctime = d.ts()
	return a
}

// Header is a decoded message header.
type Header struct {
	Size uint32
	Tag  uint32
	Type uint16
}

// ParseHeader checks a received packet and returns its header and payload.
func ParseHeader(pkt []byte) (Header, []byte, error) {
	if len(pkt) < HeaderSize || len(pkt) > MaxMessage {
		return Header{}, nil, ErrMalformed
	}
	d := NewDecoder(pkt[:HeaderSize])
	h := Header{Size: d.U32(), Tag: d.U32(), Type: d.U16()}
	if pad := d.U16(); pad != 0 || int(h.Size) != len(pkt) {
		return Header{}, nil, ErrMalformed
	}
	return h, pkt[HeaderSize:], nil
}

// validName reports whether name is one path component the server may
// look up or create: not empty, not "." or "..", no '/' and no NUL.
func validName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > MaxName {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return false
		}
	}
	return true
}

// Request is a decoded request: the fields that any request type uses.
// Which ones are meaningful depends on Type (see DecodeRequest).
type Request struct {
	Tag   uint32
	Type  uint16
	FID   uint64   // node the request is about (the directory for name ops)
	FID2  uint64   // second node: Tlink target, Trename new directory
	Names []string // Twalk path components; Twalknames names of one directory
	Name  string   // Tcreate…Tunlink, Trename old name, xattr name
	Name2 string   // Trename new name, Tsymlink target
	Flags uint32   // Topen/Tcreate open flags, Tunlink AT_REMOVEDIR, Trename RENAME_*, Tsetxattr flags, Tversion version, Tconnect/Tbind socket type
	Mode  uint32
	UID   uint32
	GID   uint32
	Rdev  uint64
	Off   uint64 // Tgetdents offset; Tsetstat size
	Count uint32 // Tgetdents buffer size, Tgetxattr size, Tversion msize
	Mask  uint32 // Tsetstat: which of mode/uid/gid/size/atime/mtime
	Atime unix.Timespec
	Mtime unix.Timespec
	Value []byte   // Tsetxattr value
	FIDs  []uint64 // Tclunks
}

// SetStat mask bits.
const (
	SetMode uint32 = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime
	SetMtime
)

// EncodeRequest writes r (by its Type) into e.
func EncodeRequest(e *Encoder, r *Request) error {
	e.Start(r.Tag, r.Type)
	switch r.Type {
	case TVersion:
		e.U32(r.Flags)
		e.U32(r.Count)
	case TAttach:
	case TWalk:
		e.U64(r.FID)
		e.U16(uint16(len(r.Names)))
		for _, n := range r.Names {
			e.Str(n)
		}
	case TStat, TReadlink, TStatFS, TClunk, TListXattr:
		e.U64(r.FID)
	case TOpen:
		e.U64(r.FID)
		e.U32(r.Flags)
	case TGetdents:
		e.U64(r.FID)
		e.U64(r.Off)
		e.U32(r.Count)
	case TGetdentsWalk:
		e.U64(r.FID)
		e.U64(r.Off)
		e.U32(r.Count)
		e.U32(r.Flags)
	case TCreate, TMkdir, TMknod, TSymlink:
		e.U64(r.FID)
		e.Str(r.Name)
		e.Str(r.Name2)
		e.U32(r.Flags)
		e.U32(r.Mode)
		e.U32(r.UID)
		e.U32(r.GID)
		e.U64(r.Rdev)
	case TLink:
		e.U64(r.FID)
		e.Str(r.Name)
		e.U64(r.FID2)
	case TUnlink:
		e.U64(r.FID)
		e.Str(r.Name)
		e.U32(r.Flags)
	case TRename:
		e.U64(r.FID)
		e.Str(r.Name)
		e.U64(r.FID2)
		e.Str(r.Name2)
		e.U32(r.Flags)
	case TSetStat:
		e.U64(r.FID)
		e.U32(r.Mask)
		e.U32(r.Mode)
		e.U32(r.UID)
		e.U32(r.GID)
		e.U64(r.Off)
		e.ts(r.Atime)
		e.ts(r.Mtime)
	case TGetXattr, TRemoveXattr:
		e.U64(r.FID)
		e.Str(r.Name)
		e.U32(r.Count)
	case TSetXattr:
		e.U64(r.FID)
		e.Str(r.Name)
		e.Bytes(r.Value)
		e.U32(r.Flags)
	case TConnect:
		e.U64(r.FID)
		e.U32(r.Flags)
	case TStatAt:
		e.U64(r.FID)
		e.Str(r.Name)
	case TWalkOpen:
		e.U64(r.FID)
		e.Str(r.Name)
		e.U32(r.Flags)
	case TBind:
		e.U64(r.FID)
		e.Str(r.Name)
		e.U32(r.Flags)
		e.U32(r.Mode)
		e.U32(r.UID)
		e.U32(r.GID)
	case TTmpfile:
		e.U64(r.FID)
		e.U32(r.Flags)
		e.U32(r.Mode)
		e.U32(r.UID)
		e.U32(r.GID)
	case TClunks:
		if len(r.FIDs) > MaxClunks {
			return unix.EINVAL
		}
		e.U16(uint16(len(r.FIDs)))
		for _, f := range r.FIDs {
			e.U64(f)
		}
	case TWalkNames:
		if len(r.Names) > MaxWalkNames {
			return unix.EINVAL
		}
		e.U64(r.FID)
		e.U32(r.Flags)
		e.U16(uint16(len(r.Names)))
		for _, n := range r.Names {
			e.Str(n)
		}
	default:
		return unix.EINVAL
	}
	return e.Finish()
}

// DecodeRequest parses one request packet. It never panics; any error means
// the peer is broken or hostile and the connection should be closed.
func DecodeRequest(pkt []byte, r *Request) error {
	h, p, err := ParseHeader(pkt)
	if err != nil {
		return err
	}
	*r = Request{Tag: h.Tag, Type: h.Type}
	d := NewDecoder(p)
	name := func() string {
		s := d.Str(MaxName)
		if !d.bad && !validName(s) {
			d.bad = true
		}
		return s
	}
	switch h.Type {
	case TVersion:
		r.Flags = d.U32()
		r.Count = d.U32()
	case TAttach:
	case TWalk:
		r.FID = d.U64()
		n := int(d.U16())
		if n > MaxWalk {
			return ErrMalformed
		}
		for i := 0; i < n && !d.bad; i++ {
			r.Names = append(r.Names, name())
		}
	case TStat, TReadlink, TStatFS, TClunk, TListXattr:
		r.FID = d.U64()
	case TOpen:
		r.FID = d.U64()
		r.Flags = d.U32()
	case TGetdents:
		r.FID = d.U64()
		r.Off = d.U64()
		r.Count = d.U32()
	case TGetdentsWalk:
		r.FID = d.U64()
		r.Off = d.U64()
		r.Count = d.U32()
		r.Flags = d.U32()
	case TCreate, TMkdir, TMknod, TSymlink:
		r.FID = d.U64()
		r.Name = name()
		r.Name2 = d.Str(MaxPath)
		r.Flags = d.U32()
		r.Mode = d.U32()
		r.UID = d.U32()
		r.GID = d.U32()
		r.Rdev = d.U64()
	case TLink:
		r.FID = d.U64()
		r.Name = name()
		r.FID2 = d.U64()
	case TUnlink:
		r.FID = d.U64()
		r.Name = name()
		r.Flags = d.U32()
	case TRename:
		r.FID = d.U64()
		r.Name = name()
		r.FID2 = d.U64()
		r.Name2 = name()
		r.Flags = d.U32()
	case TSetStat:
		r.FID = d.U64()
		r.Mask = d.U32()
		r.Mode = d.U32()
		r.UID = d.U32()
		r.GID = d.U32()
		r.Off = d.U64()
		r.Atime = d.ts()
		r.Mtime = d.ts()
	case TGetXattr, TRemoveXattr:
		r.FID = d.U64()
		r.Name = d.Str(MaxName)
		r.Count = d.U32()
	case TSetXattr:
		r.FID = d.U64()
		r.Name = d.Str(MaxName)
		r.Value = append([]byte(nil), d.Bytes(MaxMessage)...)
		r.Flags = d.U32()
	case TConnect:
		r.FID = d.U64()
		r.Flags = d.U32()
	case TStatAt:
		r.FID = d.U64()
		r.Name = name()
	case TWalkOpen:
		r.FID = d.U64()
		r.Name = name()
		r.Flags = d.U32()
	case TBind:
		r.FID = d.U64()
		r.Name = name()
		r.Flags = d.U32()
		r.Mode = d.U32()
		r.UID = d.U32()
		r.GID = d.U32()
	case TTmpfile:
		r.FID = d.U64()
		r.Flags = d.U32()
		r.Mode = d.U32()
		r.UID = d.U32()
		r.GID = d.U32()
	case TClunks:
		n := int(d.U16())
		if n > MaxClunks {
			return ErrMalformed
		}
		for i := 0; i < n && !d.bad; i++ {
			r.FIDs = append(r.FIDs, d.U64())
		}
	case TWalkNames:
		r.FID = d.U64()
		r.Flags = d.U32()
		n := int(d.U16())
		if n > MaxWalkNames {
			return ErrMalformed
		}
		for i := 0; i < n && !d.bad; i++ {
			r.Names = append(r.Names, name())
		}
	default:
		return ErrMalformed
	}
	return d.Done()
}
