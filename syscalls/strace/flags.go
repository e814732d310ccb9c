package strace

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// name is one value of a flag set or enum. The tables below are read-only.
type name struct {
	v uint64
	s string
}

// appendFlags appends the names of the bits of v that table names, joined
// by '|', and any bits left over in hex. A combined value (a name covering
// several bits) must come before the bits it covers. zero is printed for 0.
func appendFlags(b []byte, v uint64, table []name, zero string) []byte {
	if v == 0 {
		return append(b, zero...)
	}
	first := true
	for _, n := range table {
		if n.v != 0 && v&n.v == n.v {
			if !first {
				b = append(b, '|')
			}
			b = append(b, n.s...)
			first = false
			v &^= n.v
		}
	}
	if v != 0 {
		if !first {
			b = append(b, '|')
		}
		b = appendHex(b, v)
	}
	return b
}

// appendEnum appends the name of v in table, or v in decimal (as a signed
// 32-bit value, which is what enum-like arguments are).
func appendEnum(b []byte, v uint64, table []name) []byte {
	for _, n := range table {
		if n.v == v {
			return append(b, n.s...)
		}
	}
	return strconv.AppendInt(b, int64(int32(v)), 10)
}

// appendEnumHex is appendEnum with an unknown value printed in hex (ioctl
// requests, arch_prctl codes).
func appendEnumHex(b []byte, v uint64, table []name) []byte {
	for _, n := range table {
		if n.v == v {
			return append(b, n.s...)
		}
	}
	return appendHex(b, v)
}

func appendHex(b []byte, v uint64) []byte {
	b = append(b, "0x"...)
	return strconv.AppendUint(b, v, 16)
}

// appendOct appends v in octal with a leading 0, at least three digits
// ("0644", "022", "000"), as strace prints modes.
func appendOct(b []byte, v uint64) []byte {
	var num [24]byte
	n := strconv.AppendUint(num[:0], v, 8)
	b = append(b, '0')
	for i := len(n); i < 2; i++ {
		b = append(b, '0')
	}
	return append(b, n...)
}

// appendPtr appends an address: NULL or hex.
func appendPtr(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, "NULL"...)
	}
	return appendHex(b, v)
}

// openFlagNames are the O_* bits above the access mode. O_SYNC and
// O_TMPFILE include other bits and come first.
var openFlagNames = []name{
	{unix.O_SYNC, "O_SYNC"},
	{unix.O_TMPFILE, "O_TMPFILE"},
	{unix.O_CREAT, "O_CREAT"},
	{unix.O_EXCL, "O_EXCL"},
	{unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"},
	{unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"},
	{0x8000, "O_LARGEFILE"}, // unix.O_LARGEFILE is 0 on amd64.
	{unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"},
}

// appendOpenFlags appends open(2) flags: the access mode, then the other
// bits ("O_RDONLY|O_CLOEXEC").
func appendOpenFlags(b []byte, v uint64) []byte {
	switch v & unix.O_ACCMODE {
	case unix.O_RDONLY:
		b = append(b, "O_RDONLY"...)
	case unix.O_WRONLY:
		b = append(b, "O_WRONLY"...)
	case unix.O_RDWR:
		b = append(b, "O_RDWR"...)
	default:
		b = append(b, "O_ACCMODE"...)
	}
	rest := v &^ unix.O_ACCMODE
	if rest == 0 {
		return b
	}
	b = append(b, '|')
	return appendFlags(b, rest, openFlagNames, "")
}

var fdFlagNames = []name{{unix.FD_CLOEXEC, "FD_CLOEXEC"}}

var atFlagNames = []name{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	{unix.AT_EACCESS, "AT_EACCESS"},
	{unix.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
	{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},
	{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
	{unix.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"},
	{unix.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"},
	{unix.AT_RECURSIVE, "AT_RECURSIVE"},
}

var unlinkatFlagNames = []name{{unix.AT_REMOVEDIR, "AT_REMOVEDIR"}}

var renameFlagNames = []name{
	{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"},
	{unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"},
	{unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"},
}

var accessModeNames = []name{
	{unix.R_OK, "R_OK"},
	{unix.W_OK, "W_OK"},
	{unix.X_OK, "X_OK"},
}

var whenceNames = []name{
	{unix.SEEK_SET, "SEEK_SET"},
	{unix.SEEK_CUR, "SEEK_CUR"},
	{unix.SEEK_END, "SEEK_END"},
	{unix.SEEK_DATA, "SEEK_DATA"},
	{unix.SEEK_HOLE, "SEEK_HOLE"},
}

var protNames = []name{
	{unix.PROT_READ, "PROT_READ"},
	{unix.PROT_WRITE, "PROT_WRITE"},
	{unix.PROT_EXEC, "PROT_EXEC"},
	{0x8, "PROT_SEM"},
	{unix.PROT_GROWSDOWN, "PROT_GROWSDOWN"},
	{unix.PROT_GROWSUP, "PROT_GROWSUP"},
}

// mapTypeNames are the values of the MAP_TYPE field (the low four bits).
var mapTypeNames = []name{
	{unix.MAP_SHARED, "MAP_SHARED"},
	{unix.MAP_PRIVATE, "MAP_PRIVATE"},
	{unix.MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"},
}

var mapFlagNames = []name{
	{unix.MAP_FIXED, "MAP_FIXED"},
	{unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"},
	{0x40, "MAP_32BIT"},
	{unix.MAP_GROWSDOWN, "MAP_GROWSDOWN"},
	{unix.MAP_DENYWRITE, "MAP_DENYWRITE"},
	{unix.MAP_EXECUTABLE, "MAP_EXECUTABLE"},
	{unix.MAP_LOCKED, "MAP_LOCKED"},
	{unix.MAP_NORESERVE, "MAP_NORESERVE"},
	{unix.MAP_POPULATE, "MAP_POPULATE"},
	{unix.MAP_NONBLOCK, "MAP_NONBLOCK"},
	{unix.MAP_STACK, "MAP_STACK"},
	{unix.MAP_HUGETLB, "MAP_HUGETLB"},
	{unix.MAP_SYNC, "MAP_SYNC"},
	{unix.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
	{0x4000000, "MAP_UNINITIALIZED"},
}

// appendMmapFlags appends mmap flags: the mapping type, then the other bits.
func appendMmapFlags(b []byte, v uint64) []byte {
	const typeMask = 0xf
	b = appendEnumHex(b, v&typeMask, mapTypeNames)
	if rest := v &^ typeMask; rest != 0 {
		b = append(b, '|')
		b = appendFlags(b, rest, mapFlagNames, "")
	}
	return b
}

var mremapFlagNames = []name{
	{unix.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"},
	{unix.MREMAP_FIXED, "MREMAP_FIXED"},
	{unix.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"},
}

var madviseNames = []name{
	{unix.MADV_NORMAL, "MADV_NORMAL"},
	{unix.MADV_RANDOM, "MADV_RANDOM"},
	{unix.MADV_SEQUENTIAL, "MADV_SEQUENTIAL"},
	{unix.MADV_WILLNEED, "MADV_WILLNEED"},
	{unix.MADV_DONTNEED, "MADV_DONTNEED"},
	{unix.MADV_FREE, "MADV_FREE"},
	{unix.MADV_REMOVE, "MADV_REMOVE"},
	{unix.MADV_DONTFORK, "MADV_DONTFORK"},
	{unix.MADV_DOFORK, "MADV_DOFORK"},
	{unix.MADV_MERGEABLE, "MADV_MERGEABLE"},
	{unix.MADV_UNMERGEABLE, "MADV_UNMERGEABLE"},
	{unix.MADV_HUGEPAGE, "MADV_HUGEPAGE"},
	{unix.MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"},
	{unix.MADV_DONTDUMP, "MADV_DONTDUMP"},
	{unix.MADV_DODUMP, "MADV_DODUMP"},
	{unix.MADV_WIPEONFORK, "MADV_WIPEONFORK"},
	{unix.MADV_KEEPONFORK, "MADV_KEEPONFORK"},
	{unix.MADV_COLD, "MADV_COLD"},
	{unix.MADV_PAGEOUT, "MADV_PAGEOUT"},
	{22, "MADV_POPULATE_READ"},
	{23, "MADV_POPULATE_WRITE"},
	{24, "MADV_DONTNEED_LOCKED"},
	{25, "MADV_COLLAPSE"},
	{unix.MADV_HWPOISON, "MADV_HWPOISON"},
	{101, "MADV_SOFT_OFFLINE"},
	{102, "MADV_GUARD_INSTALL"},
	{103, "MADV_GUARD_REMOVE"},
}

// Generic ioctls x/sys/unix does not export (asm-generic/ioctls.h).
const (
	fionread = 0x541b
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
	fioasync = 0x5452
)

var ioctlNames = []name{
	{unix.TCGETS, "TCGETS"},
	{unix.TCSETS, "TCSETS"},
	{unix.TCSETSW, "TCSETSW"},
	{unix.TCSETSF, "TCSETSF"},
	{unix.TCSBRK, "TCSBRK"},
	{unix.TCXONC, "TCXONC"},
	{unix.TCFLSH, "TCFLSH"},
	{unix.TIOCEXCL, "TIOCEXCL"},
	{unix.TIOCNXCL, "TIOCNXCL"},
	{unix.TIOCSCTTY, "TIOCSCTTY"},
	{unix.TIOCGPGRP, "TIOCGPGRP"},
	{unix.TIOCSPGRP, "TIOCSPGRP"},
	{unix.TIOCOUTQ, "TIOCOUTQ"},
	{unix.TIOCSTI, "TIOCSTI"},
	{unix.TIOCGWINSZ, "TIOCGWINSZ"},
	{unix.TIOCSWINSZ, "TIOCSWINSZ"},
	{unix.TIOCMGET, "TIOCMGET"},
	{fionread, "FIONREAD"},
	{unix.TIOCLINUX, "TIOCLINUX"},
	{unix.TIOCCONS, "TIOCCONS"},
	{fionbio, "FIONBIO"},
	{unix.TIOCNOTTY, "TIOCNOTTY"},
	{unix.TIOCSETD, "TIOCSETD"},
	{unix.TIOCGETD, "TIOCGETD"},
	{unix.TIOCGSID, "TIOCGSID"},
	{unix.TIOCGPTN, "TIOCGPTN"},
	{unix.TIOCSPTLCK, "TIOCSPTLCK"},
	{unix.TIOCGPTPEER, "TIOCGPTPEER"},
	{fionclex, "FIONCLEX"},
	{fioclex, "FIOCLEX"},
	{fioasync, "FIOASYNC"},
	{unix.TCGETS2, "TCGETS2"},
	{unix.TCSETS2, "TCSETS2"},
	{unix.TIOCGLCKTRMIOS, "TIOCGLCKTRMIOS"},
	{unix.TIOCSLCKTRMIOS, "TIOCSLCKTRMIOS"},
	{unix.FS_IOC_GETFLAGS, "FS_IOC_GETFLAGS"},
	{unix.FS_IOC_SETFLAGS, "FS_IOC_SETFLAGS"},
	{unix.FICLONE, "FICLONE"},
}

var fcntlNames = []name{
	{unix.F_DUPFD, "F_DUPFD"},
	{unix.F_GETFD, "F_GETFD"},
	{unix.F_SETFD, "F_SETFD"},
	{unix.F_GETFL, "F_GETFL"},
	{unix.F_SETFL, "F_SETFL"},
	{unix.F_GETLK, "F_GETLK"},
	{unix.F_SETLK, "F_SETLK"},
	{unix.F_SETLKW, "F_SETLKW"},
	{unix.F_SETOWN, "F_SETOWN"},
	{unix.F_GETOWN, "F_GETOWN"},
	{unix.F_SETSIG, "F_SETSIG"},
	{unix.F_GETSIG, "F_GETSIG"},
	{unix.F_SETOWN_EX, "F_SETOWN_EX"},
	{unix.F_GETOWN_EX, "F_GETOWN_EX"},
	{unix.F_OFD_GETLK, "F_OFD_GETLK"},
	{unix.F_OFD_SETLK, "F_OFD_SETLK"},
	{unix.F_OFD_SETLKW, "F_OFD_SETLKW"},
	{unix.F_SETLEASE, "F_SETLEASE"},
	{unix.F_GETLEASE, "F_GETLEASE"},
	{unix.F_NOTIFY, "F_NOTIFY"},
	{unix.F_DUPFD_CLOEXEC, "F_DUPFD_CLOEXEC"},
	{unix.F_SETPIPE_SZ, "F_SETPIPE_SZ"},
	{unix.F_GETPIPE_SZ, "F_GETPIPE_SZ"},
	{unix.F_ADD_SEALS, "F_ADD_SEALS"},
	{unix.F_GET_SEALS, "F_GET_SEALS"},
}

// cloneFlagNames are the CLONE_* bits above the exit signal byte, plus the
// clone3-only bits.
var cloneFlagNames = []name{
	{unix.CLONE_VM, "CLONE_VM"},
	{unix.CLONE_FS, "CLONE_FS"},
	{unix.CLONE_FILES, "CLONE_FILES"},
	{unix.CLONE_SIGHAND, "CLONE_SIGHAND"},
	{unix.CLONE_PIDFD, "CLONE_PIDFD"},
	{unix.CLONE_PTRACE, "CLONE_PTRACE"},
	{unix.CLONE_VFORK, "CLONE_VFORK"},
	{unix.CLONE_PARENT, "CLONE_PARENT"},
	{unix.CLONE_THREAD, "CLONE_THREAD"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"},
	{unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"},
	{unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"},
	{unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	{unix.CLONE_DETACHED, "CLONE_DETACHED"},
	{unix.CLONE_UNTRACED, "CLONE_UNTRACED"},
	{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"},
	{unix.CLONE_IO, "CLONE_IO"},
	{unix.CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"},
	{unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
	{unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
}

var sigHowNames = []name{
	{unix.SIG_BLOCK, "SIG_BLOCK"},
	{unix.SIG_UNBLOCK, "SIG_UNBLOCK"},
	{unix.SIG_SETMASK, "SIG_SETMASK"},
}

var saFlagNames = []name{
	{0x1, "SA_NOCLDSTOP"},
	{0x2, "SA_NOCLDWAIT"},
	{0x4, "SA_SIGINFO"},
	{0x400, "SA_UNSUPPORTED"},
	{0x800, "SA_EXPOSE_TAGBITS"},
	{saRestorer, "SA_RESTORER"},
	{0x08000000, "SA_ONSTACK"},
	{0x10000000, "SA_RESTART"},
	{0x40000000, "SA_NODEFER"},
	{0x80000000, "SA_RESETHAND"},
}

const saRestorer = 0x04000000

var archPrctlNames = []name{
	{0x1001, "ARCH_SET_GS"},
	{0x1002, "ARCH_SET_FS"},
	{0x1003, "ARCH_GET_FS"},
	{0x1004, "ARCH_GET_GS"},
	{0x1011, "ARCH_GET_CPUID"},
	{0x1012, "ARCH_SET_CPUID"},
	{0x1021, "ARCH_GET_XCOMP_SUPP"},
	{0x1022, "ARCH_GET_XCOMP_PERM"},
	{0x1023, "ARCH_REQ_XCOMP_PERM"},
	{0x1024, "ARCH_GET_XCOMP_GUEST_PERM"},
	{0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"},
	{0x1031, "ARCH_XCOMP_TILECFG"},
	{0x1032, "ARCH_XCOMP_TILEDATA"},
	{0x2001, "ARCH_MAP_VDSO_X32"},
	{0x2002, "ARCH_MAP_VDSO_32"},
	{0x2003, "ARCH_MAP_VDSO_64"},
	{0x4001, "ARCH_GET_UNTAG_MASK"},
	{0x4002, "ARCH_ENABLE_TAGGED_ADDR"},
	{0x4003, "ARCH_GET_MAX_TAG_BITS"},
	{0x4004, "ARCH_FORCE_TAGGED_SVA"},
	{0x5001, "ARCH_SHSTK_ENABLE"},
	{0x5002, "ARCH_SHSTK_DISABLE"},
	{0x5003, "ARCH_SHSTK_LOCK"},
	{0x5004, "ARCH_SHSTK_UNLOCK"},
	{0x5005, "ARCH_SHSTK_STATUS"},
}

// Futex commands (linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexFd            = 2
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexLockPi        = 6
	futexUnlockPi      = 7
	futexTrylockPi     = 8
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexWaitRequeuePi = 11
	futexCmpRequeuePi  = 12
	futexLockPi2       = 13
)

// futexCmdNames are the futex commands (op & FUTEX_CMD_MASK).
var futexCmdNames = []name{
	{futexWait, "FUTEX_WAIT"},
	{futexWake, "FUTEX_WAKE"},
	{futexFd, "FUTEX_FD"},
	{futexRequeue, "FUTEX_REQUEUE"},
	{futexCmpRequeue, "FUTEX_CMP_REQUEUE"},
	{futexWakeOp, "FUTEX_WAKE_OP"},
	{futexLockPi, "FUTEX_LOCK_PI"},
	{futexUnlockPi, "FUTEX_UNLOCK_PI"},
	{futexTrylockPi, "FUTEX_TRYLOCK_PI"},
	{futexWaitBitset, "FUTEX_WAIT_BITSET"},
	{futexWakeBitset, "FUTEX_WAKE_BITSET"},
	{futexWaitRequeuePi, "FUTEX_WAIT_REQUEUE_PI"},
	{futexCmpRequeuePi, "FUTEX_CMP_REQUEUE_PI"},
	{futexLockPi2, "FUTEX_LOCK_PI2"},
}

const (
	futexPrivate       = 128
	futexClockRealtime = 256
	futexCmdMask       = ^uint64(futexPrivate | futexClockRealtime)
)

// appendFutexOp appends "FUTEX_WAIT_PRIVATE|FUTEX_CLOCK_REALTIME" style ops.
func appendFutexOp(b []byte, v uint64) []byte {
	b = appendEnumHex(b, v&futexCmdMask&0xffffffff, futexCmdNames)
	if v&futexPrivate != 0 {
		b = append(b, "_PRIVATE"...)
	}
	if v&futexClockRealtime != 0 {
		b = append(b, "|FUTEX_CLOCK_REALTIME"...)
	}
	return b
}

var clockNames = []name{
	{unix.CLOCK_REALTIME, "CLOCK_REALTIME"},
	{unix.CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
	{unix.CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
	{unix.CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
	{unix.CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
	{unix.CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
	{unix.CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
	{unix.CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
	{unix.CLOCK_REALTIME_ALARM, "CLOCK_REALTIME_ALARM"},
	{unix.CLOCK_BOOTTIME_ALARM, "CLOCK_BOOTTIME_ALARM"},
	{unix.CLOCK_TAI, "CLOCK_TAI"},
}

var timerFlagNames = []name{{unix.TIMER_ABSTIME, "TIMER_ABSTIME"}}

var rlimitNames = []name{
	{unix.RLIMIT_CPU, "RLIMIT_CPU"},
	{unix.RLIMIT_FSIZE, "RLIMIT_FSIZE"},
	{unix.RLIMIT_DATA, "RLIMIT_DATA"},
	{unix.RLIMIT_STACK, "RLIMIT_STACK"},
	{unix.RLIMIT_CORE, "RLIMIT_CORE"},
	{unix.RLIMIT_RSS, "RLIMIT_RSS"},
	{unix.RLIMIT_NPROC, "RLIMIT_NPROC"},
	{unix.RLIMIT_NOFILE, "RLIMIT_NOFILE"},
	{unix.RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
	{unix.RLIMIT_AS, "RLIMIT_AS"},
	{unix.RLIMIT_LOCKS, "RLIMIT_LOCKS"},
	{unix.RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
	{unix.RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
	{unix.RLIMIT_NICE, "RLIMIT_NICE"},
	{unix.RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
	{unix.RLIMIT_RTTIME, "RLIMIT_RTTIME"},
}

var grndFlagNames = []name{
	{unix.GRND_NONBLOCK, "GRND_NONBLOCK"},
	{unix.GRND_RANDOM, "GRND_RANDOM"},
	{unix.GRND_INSECURE, "GRND_INSECURE"},
}

var waitOptionNames = []name{
	{unix.WNOHANG, "WNOHANG"},
	{unix.WUNTRACED, "WUNTRACED"},
	{unix.WEXITED, "WEXITED"},
	{unix.WCONTINUED, "WCONTINUED"},
	{unix.WNOWAIT, "WNOWAIT"},
	{0x20000000, "__WNOTHREAD"},
	{0x40000000, "__WALL"},
	{0x80000000, "__WCLONE"},
}

var familyNames = []name{
	{unix.AF_UNSPEC, "AF_UNSPEC"},
	{unix.AF_UNIX, "AF_UNIX"},
	{unix.AF_INET, "AF_INET"},
	{unix.AF_INET6, "AF_INET6"},
	{unix.AF_NETLINK, "AF_NETLINK"},
	{unix.AF_PACKET, "AF_PACKET"},
	{unix.AF_ALG, "AF_ALG"},
	{unix.AF_VSOCK, "AF_VSOCK"},
	{unix.AF_KEY, "AF_KEY"},
	{unix.AF_BLUETOOTH, "AF_BLUETOOTH"},
	{unix.AF_XDP, "AF_XDP"},
}

var sockTypeNames = []name{
	{unix.SOCK_STREAM, "SOCK_STREAM"},
	{unix.SOCK_DGRAM, "SOCK_DGRAM"},
	{unix.SOCK_RAW, "SOCK_RAW"},
	{unix.SOCK_RDM, "SOCK_RDM"},
	{unix.SOCK_SEQPACKET, "SOCK_SEQPACKET"},
	{unix.SOCK_DCCP, "SOCK_DCCP"},
	{unix.SOCK_PACKET, "SOCK_PACKET"},
}

var sockFlagNames = []name{
	{unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"},
	{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"},
}

// appendSockType appends a socket type with its SOCK_NONBLOCK/SOCK_CLOEXEC
// flags.
func appendSockType(b []byte, v uint64) []byte {
	const typeMask = 0xf
	b = appendEnum(b, v&typeMask, sockTypeNames)
	if rest := v &^ typeMask; rest != 0 {
		b = append(b, '|')
		b = appendFlags(b, rest, sockFlagNames, "")
	}
	return b
}

var statxMaskNames = []name{
	{unix.STATX_ALL, "STATX_ALL"},
	{unix.STATX_BASIC_STATS, "STATX_BASIC_STATS"},
	{unix.STATX_TYPE, "STATX_TYPE"},
	{unix.STATX_MODE, "STATX_MODE"},
	{unix.STATX_NLINK, "STATX_NLINK"},
	{unix.STATX_UID, "STATX_UID"},
	{unix.STATX_GID, "STATX_GID"},
	{unix.STATX_ATIME, "STATX_ATIME"},
	{unix.STATX_MTIME, "STATX_MTIME"},
	{unix.STATX_CTIME, "STATX_CTIME"},
	{unix.STATX_INO, "STATX_INO"},
	{unix.STATX_SIZE, "STATX_SIZE"},
	{unix.STATX_BLOCKS, "STATX_BLOCKS"},
	{unix.STATX_BTIME, "STATX_BTIME"},
	{unix.STATX_MNT_ID, "STATX_MNT_ID"},
	{unix.STATX_DIOALIGN, "STATX_DIOALIGN"},
	{0x4000, "STATX_MNT_ID_UNIQUE"},
	{0x8000, "STATX_SUBVOL"},
	{0x10000, "STATX_WRITE_ATOMIC"},
	{0x20000, "STATX_DIO_READ_ALIGN"},
}

var closeRangeFlagNames = []name{
	{unix.CLOSE_RANGE_UNSHARE, "CLOSE_RANGE_UNSHARE"},
	{unix.CLOSE_RANGE_CLOEXEC, "CLOSE_RANGE_CLOEXEC"},
}

var epollCtlNames = []name{
	{unix.EPOLL_CTL_ADD, "EPOLL_CTL_ADD"},
	{unix.EPOLL_CTL_DEL, "EPOLL_CTL_DEL"},
	{unix.EPOLL_CTL_MOD, "EPOLL_CTL_MOD"},
}

var prctlNames = []name{
	{unix.PR_SET_PDEATHSIG, "PR_SET_PDEATHSIG"},
	{unix.PR_GET_PDEATHSIG, "PR_GET_PDEATHSIG"},
	{unix.PR_GET_DUMPABLE, "PR_GET_DUMPABLE"},
	{unix.PR_SET_DUMPABLE, "PR_SET_DUMPABLE"},
	{unix.PR_GET_KEEPCAPS, "PR_GET_KEEPCAPS"},
	{unix.PR_SET_KEEPCAPS, "PR_SET_KEEPCAPS"},
	{unix.PR_SET_NAME, "PR_SET_NAME"},
	{unix.PR_GET_NAME, "PR_GET_NAME"},
	{unix.PR_GET_SECCOMP, "PR_GET_SECCOMP"},
	{unix.PR_SET_SECCOMP, "PR_SET_SECCOMP"},
	{unix.PR_CAPBSET_READ, "PR_CAPBSET_READ"},
	{unix.PR_CAPBSET_DROP, "PR_CAPBSET_DROP"},
	{unix.PR_SET_MM, "PR_SET_MM"},
	{unix.PR_SET_CHILD_SUBREAPER, "PR_SET_CHILD_SUBREAPER"},
	{unix.PR_GET_CHILD_SUBREAPER, "PR_GET_CHILD_SUBREAPER"},
	{unix.PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS"},
	{unix.PR_GET_NO_NEW_PRIVS, "PR_GET_NO_NEW_PRIVS"},
	{unix.PR_SET_THP_DISABLE, "PR_SET_THP_DISABLE"},
	{unix.PR_GET_THP_DISABLE, "PR_GET_THP_DISABLE"},
	{unix.PR_CAP_AMBIENT, "PR_CAP_AMBIENT"},
	{unix.PR_SET_VMA, "PR_SET_VMA"},
}

var memfdFlagNames = []name{
	{unix.MFD_CLOEXEC, "MFD_CLOEXEC"},
	{unix.MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING"},
	{unix.MFD_HUGETLB, "MFD_HUGETLB"},
	{unix.MFD_NOEXEC_SEAL, "MFD_NOEXEC_SEAL"},
	{unix.MFD_EXEC, "MFD_EXEC"},
}

// appendSignal appends a signal's name: SIGTERM, SIGRTMIN, SIGRT_3, or the
// number if it is no signal.
func appendSignal(b []byte, sig uint64) []byte {
	const sigRTMin, sigRTMax = 32, 64
	switch {
	case sig == 0:
		return append(b, '0')
	case sig < sigRTMin:
		if n := unix.SignalName(unix.Signal(sig)); n != "" {
			return append(b, n...)
		}
	case sig == sigRTMin:
		return append(b, "SIGRTMIN"...)
	case sig <= sigRTMax:
		b = append(b, "SIGRT_"...)
		return strconv.AppendUint(b, sig-sigRTMin, 10)
	}
	return strconv.AppendInt(b, int64(int32(sig)), 10)
}

// appendSigset appends a 64-bit signal set as strace does: "[INT TERM]",
// or "~[...]" listing the signals not in the set when most are.
func appendSigset(b []byte, set uint64) []byte {
	ones := 0
	for s := set; s != 0; s &= s - 1 {
		ones++
	}
	if ones > 32 {
		b = append(b, '~')
		set = ^set
	}
	b = append(b, '[')
	first := true
	for sig := uint64(1); sig <= 64; sig++ {
		if set&(1<<(sig-1)) == 0 {
			continue
		}
		if !first {
			b = append(b, ' ')
		}
		first = false
		start := len(b)
		b = appendSignal(b, sig)
		// Drop the "SIG" prefix, as strace does inside sets.
		if len(b)-start > 3 && string(b[start:start+3]) == "SIG" {
			b = append(b[:start], b[start+3:]...)
		}
	}
	return append(b, ']')
}
