package vfs

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Stat is a node's attributes, the union of what stat(2) and statx(2)
// report.
type Stat struct {
	// Mode is the file type (S_IFMT bits) and permission bits.
	Mode    uint32
	Nlink   uint32
	UID     auth.KUID
	GID     auth.KGID
	Size    uint64
	Blocks  uint64 // in 512-byte units
	Blksize uint32
	Ino     uint64
	// Dev and Rdev are encoded as by unix.Mkdev.
	Dev, Rdev                  uint64
	Atime, Mtime, Ctime, Btime unix.Timespec
}

// ToStatT fills a struct stat.
func (s *Stat) ToStatT(out *unix.Stat_t) {
	*out = unix.Stat_t{
		Dev: s.Dev, Ino: s.Ino, Nlink: uint64(s.Nlink), Mode: s.Mode,
		Uid: uint32(s.UID), Gid: uint32(s.GID), Rdev: s.Rdev, Size: int64(s.Size),
		Blksize: int64(s.Blksize), Blocks: int64(s.Blocks),
		Atim: s.Atime, Mtim: s.Mtime, Ctim: s.Ctime,
	}
}

// StatxBasic is the mask of the fields that Stat always provides.
const StatxBasic = unix.STATX_BASIC_STATS

// ToStatx fills a struct statx.
func (s *Stat) ToStatx(out *unix.Statx_t, mntID uint64) {
	ts := func(t unix.Timespec) unix.StatxTimestamp {
		return unix.StatxTimestamp{Sec: t.Sec, Nsec: uint32(t.Nsec)}
	}
	*out = unix.Statx_t{
		Mask: StatxBasic | unix.STATX_MNT_ID, Blksize: s.Blksize, Nlink: s.Nlink,
		Uid: uint32(s.UID), Gid: uint32(s.GID), Mode: uint16(s.Mode), Ino: s.Ino,
		Size: s.Size, Blocks: s.Blocks,
		Atime: ts(s.Atime), Ctime: ts(s.Ctime), Mtime: ts(s.Mtime),
		Rdev_major: unix.Major(s.Rdev), Rdev_minor: unix.Minor(s.Rdev),
		Dev_major: unix.Major(s.Dev), Dev_minor: unix.Minor(s.Dev),
		Mnt_id: mntID,
	}
	if s.Btime.Sec != 0 || s.Btime.Nsec != 0 {
		out.Mask |= unix.STATX_BTIME
		out.Btime = ts(s.Btime)
	}
}

// StatFromHost converts a host struct stat.
func StatFromHost(h *unix.Stat_t) Stat {
	return Stat{
		Mode: h.Mode, Nlink: uint32(h.Nlink), UID: auth.KUID(h.Uid), GID: auth.KGID(h.Gid),
		Size: uint64(h.Size), Blocks: uint64(h.Blocks), Blksize: uint32(h.Blksize),
		Ino: h.Ino, Dev: h.Dev, Rdev: h.Rdev, Atime: h.Atim, Mtime: h.Mtim, Ctime: h.Ctim,
	}
}

// SetStatOptions says which attributes SetStat changes (Mask: STATX_MODE,
// STATX_UID, STATX_GID, STATX_SIZE, STATX_ATIME, STATX_MTIME) and to what.
// Times are absolute: the VFS has resolved UTIME_NOW and dropped
// UTIME_OMIT. The filesystem updates ctime itself.
type SetStatOptions struct {
	Mask         uint32
	Mode         uint32 // permission bits including S_ISUID/S_ISGID/S_ISVTX
	UID          auth.KUID
	GID          auth.KGID
	Size         uint64
	Atime, Mtime unix.Timespec
}

// Now returns the current time as a Timespec, for filesystems' timestamps.
func Now() unix.Timespec {
	return unix.NsecToTimespec(time.Now().UnixNano())
}

// DirentType returns the DT_* constant for a mode.
func DirentType(mode uint32) uint8 {
	return uint8((mode & unix.S_IFMT) >> 12)
}
