package abi

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Sizes of the file-related structs as the amd64 kernel lays them out.
const (
	SizeofStat    = 144 // struct stat
	SizeofStatx   = 256 // struct statx
	SizeofStatfs  = 120 // struct statfs
	SizeofTermios = 36  // struct termios (TCGETS/TCSETS: no speed fields)
	SizeofWinsize = 8   // struct winsize
	SizeofIovec   = 16  // struct iovec
)

var le = binary.LittleEndian

// MarshalStat encodes st as struct stat into dst, which must hold
// SizeofStat bytes.
func MarshalStat(dst []byte, st *unix.Stat_t) {
	_ = dst[SizeofStat-1]
	le.PutUint64(dst[0:], st.Dev)
	le.PutUint64(dst[8:], st.Ino)
	le.PutUint64(dst[16:], st.Nlink)
	le.PutUint32(dst[24:], st.Mode)
	le.PutUint32(dst[28:], st.Uid)
	le.PutUint32(dst[32:], st.Gid)
	le.PutUint32(dst[36:], 0)
	le.PutUint64(dst[40:], st.Rdev)
	le.PutUint64(dst[48:], uint64(st.Size))
	le.PutUint64(dst[56:], uint64(st.Blksize))
	le.PutUint64(dst[64:], uint64(st.Blocks))
	putTimespec(dst[72:], st.Atim)
	putTimespec(dst[88:], st.Mtim)
	putTimespec(dst[104:], st.Ctim)
	clear(dst[120:SizeofStat])
}

// UnmarshalStat decodes struct stat (used by tests).
func UnmarshalStat(src []byte, st *unix.Stat_t) {
	_ = src[SizeofStat-1]
	st.Dev = le.Uint64(src[0:])
	st.Ino = le.Uint64(src[8:])
	st.Nlink = le.Uint64(src[16:])
	st.Mode = le.Uint32(src[24:])
	st.Uid = le.Uint32(src[28:])
	st.Gid = le.Uint32(src[32:])
	st.Rdev = le.Uint64(src[40:])
	st.Size = int64(le.Uint64(src[48:]))
	st.Blksize = int64(le.Uint64(src[56:]))
	st.Blocks = int64(le.Uint64(src[64:]))
	st.Atim = getTimespec(src[72:])
	st.Mtim = getTimespec(src[88:])
	st.Ctim = getTimespec(src[104:])
}

func putTimespec(dst []byte, ts unix.Timespec) {
	le.PutUint64(dst[0:], uint64(ts.Sec))
	le.PutUint64(dst[8:], uint64(ts.Nsec))
}

func getTimespec(src []byte) unix.Timespec {
	return unix.Timespec{Sec: int64(le.Uint64(src[0:])), Nsec: int64(le.Uint64(src[8:]))}
}

// UnmarshalTimespec decodes a struct timespec (16 bytes).
func UnmarshalTimespec(src []byte) unix.Timespec { return getTimespec(src) }

// MarshalStatx encodes st as struct statx into dst, which must hold
// SizeofStatx bytes.
func MarshalStatx(dst []byte, st *unix.Statx_t) {
	_ = dst[SizeofStatx-1]
	clear(dst[:SizeofStatx])
	le.PutUint32(dst[0:], st.Mask)
	le.PutUint32(dst[4:], st.Blksize)
	le.PutUint64(dst[8:], st.Attributes)
	le.PutUint32(dst[16:], st.Nlink)
	le.PutUint32(dst[20:], st.Uid)
	le.PutUint32(dst[24:], st.Gid)
	le.PutUint16(dst[28:], st.Mode)
	le.PutUint64(dst[32:], st.Ino)
	le.PutUint64(dst[40:], st.Size)
	le.PutUint64(dst[48:], st.Blocks)
	le.PutUint64(dst[56:], st.Attributes_mask)
	putStatxTimestamp(dst[64:], st.Atime)
	putStatxTimestamp(dst[80:], st.Btime)
	putStatxTimestamp(dst[96:], st.Ctime)
	putStatxTimestamp(dst[112:], st.Mtime)
	le.PutUint32(dst[128:], st.Rdev_major)
	le.PutUint32(dst[132:], st.Rdev_minor)
	le.PutUint32(dst[136:], st.Dev_major)
	le.PutUint32(dst[140:], st.Dev_minor)
	le.PutUint64(dst[144:], st.Mnt_id)
}

func putStatxTimestamp(dst []byte, ts unix.StatxTimestamp) {
	le.PutUint64(dst[0:], uint64(ts.Sec))
	le.PutUint32(dst[8:], ts.Nsec)
	le.PutUint32(dst[12:], 0)
}

// MarshalStatfs encodes st as struct statfs into dst, which must hold
// SizeofStatfs bytes.
func MarshalStatfs(dst []byte, st *unix.Statfs_t) {
	_ = dst[SizeofStatfs-1]
	clear(dst[:SizeofStatfs])
	le.PutUint64(dst[0:], uint64(st.Type))
	le.PutUint64(dst[8:], uint64(st.Bsize))
	le.PutUint64(dst[16:], st.Blocks)
	le.PutUint64(dst[24:], st.Bfree)
	le.PutUint64(dst[32:], st.Bavail)
	le.PutUint64(dst[40:], st.Files)
	le.PutUint64(dst[48:], st.Ffree)
	le.PutUint32(dst[56:], uint32(st.Fsid.Val[0]))
	le.PutUint32(dst[60:], uint32(st.Fsid.Val[1]))
	le.PutUint64(dst[64:], uint64(st.Namelen))
	le.PutUint64(dst[72:], uint64(st.Frsize))
	le.PutUint64(dst[80:], uint64(st.Flags))
}

// Iovec is one struct iovec.
type Iovec struct {
	Base uint64
	Len  uint64
}

// UnmarshalIovec decodes one struct iovec.
func UnmarshalIovec(src []byte) Iovec {
	return Iovec{Base: le.Uint64(src[0:]), Len: le.Uint64(src[8:])}
}
