package strace

import "golang.org/x/sys/unix"

// syscallFormat is how one syscall's arguments and result are printed.
type syscallFormat struct {
	args  [6]argKind
	n     uint8
	ret   retKind
	known bool
	// fixup, if set, adjusts the record's kinds, nargs and ret at Enter
	// for syscalls whose layout depends on an argument (open's mode,
	// fcntl's and ioctl's argument, futex's op).
	fixup func(r *record)
}

// maxSysno bounds the syscall numbers that have formats.
const maxSysno = 512

// formats is indexed by syscall number. It is built once at package
// initialization and only read afterwards.
var formats = buildFormats()

// lookup returns the format of sysno, if it has one.
func lookup(sysno uintptr) (*syscallFormat, bool) {
	if sysno >= maxSysno || !formats[sysno].known {
		return nil, false
	}
	return &formats[sysno], true
}

func fm(ret retKind, args ...argKind) syscallFormat {
	f := syscallFormat{ret: ret, n: uint8(len(args)), known: true}
	copy(f.args[:], args)
	return f
}

func fmx(fixup func(*record), ret retKind, args ...argKind) syscallFormat {
	f := fm(ret, args...)
	f.fixup = fixup
	return f
}

func buildFormats() *[maxSysno]syscallFormat {
	var t [maxSysno]syscallFormat
	set := func(nr uintptr, f syscallFormat) { t[nr] = f }

	// No arguments.
	for _, nr := range []uintptr{
		unix.SYS_GETPID, unix.SYS_GETPPID, unix.SYS_GETTID, unix.SYS_GETUID,
		unix.SYS_GETEUID, unix.SYS_GETGID, unix.SYS_GETEGID, unix.SYS_GETPGRP,
		unix.SYS_SETSID, unix.SYS_SCHED_YIELD, unix.SYS_FORK, unix.SYS_VFORK,
		unix.SYS_PAUSE, unix.SYS_SYNC, unix.SYS_RT_SIGRETURN,
		unix.SYS_RESTART_SYSCALL, unix.SYS_INOTIFY_INIT, unix.SYS_MUNLOCKALL,
	} {
		set(nr, fm(rInt))
	}

	// Files and I/O.
	set(unix.SYS_READ, fm(rInt, aInt32, aOutBuf, aUint))
	set(unix.SYS_WRITE, fm(rInt, aInt32, aInBuf, aUint))
	set(unix.SYS_PREAD64, fm(rInt, aInt32, aOutBuf, aUint, aInt))
	set(unix.SYS_PWRITE64, fm(rInt, aInt32, aInBuf, aUint, aInt))
	set(unix.SYS_READV, fm(rInt, aInt32, aIovecOut, aInt32))
	set(unix.SYS_WRITEV, fm(rInt, aInt32, aIovecIn, aInt32))
	set(unix.SYS_PREADV, fm(rInt, aInt32, aIovecOut, aInt32, aInt))
	set(unix.SYS_PWRITEV, fm(rInt, aInt32, aIovecIn, aInt32, aInt))
	set(unix.SYS_OPEN, fmx(fixOpenMode(1), rInt, aPath, aOpenFlags, aMode))
	set(unix.SYS_OPENAT, fmx(fixOpenMode(2), rInt, aDirFD, aPath, aOpenFlags, aMode))
	set(unix.SYS_OPENAT2, fm(rInt, aDirFD, aPath, aPtr, aUint))
	set(unix.SYS_CREAT, fm(rInt, aPath, aMode))
	set(unix.SYS_CLOSE, fm(rInt, aInt32))
	set(unix.SYS_CLOSE_RANGE, fm(rInt, aUint, aUint, aCloseRangeFlags))
	set(unix.SYS_STAT, fm(rInt, aPath, aStatOut))
	set(unix.SYS_LSTAT, fm(rInt, aPath, aStatOut))
	set(unix.SYS_FSTAT, fm(rInt, aInt32, aStatOut))
	set(unix.SYS_NEWFSTATAT, fm(rInt, aDirFD, aPath, aStatOut, aAtFlags))
	set(unix.SYS_STATX, fm(rInt, aDirFD, aPath, aStatxFlags, aStatxMask, aStatxOut))
	set(unix.SYS_STATFS, fm(rInt, aPath, aPtr))
	set(unix.SYS_FSTATFS, fm(rInt, aInt32, aPtr))
	set(unix.SYS_ACCESS, fm(rInt, aPath, aAccessMode))
	set(unix.SYS_FACCESSAT, fm(rInt, aDirFD, aPath, aAccessMode))
	set(unix.SYS_FACCESSAT2, fm(rInt, aDirFD, aPath, aAccessMode, aAtFlags))
	set(unix.SYS_READLINK, fm(rInt, aPath, aReadlinkOut, aUint))
	set(unix.SYS_READLINKAT, fm(rInt, aDirFD, aPath, aReadlinkOut, aUint))
	set(unix.SYS_GETDENTS, fm(rInt, aInt32, aDirentsOut, aUint))
	set(unix.SYS_GETDENTS64, fm(rInt, aInt32, aDirentsOut, aUint))
	set(unix.SYS_LSEEK, fm(rInt, aInt32, aInt, aWhence))
	set(unix.SYS_IOCTL, fmx(fixIoctl, rInt, aInt32, aIoctlReq, aHex))
	set(unix.SYS_FCNTL, fmx(fixFcntl, rInt, aInt32, aFcntlCmd, aInt))
	set(unix.SYS_DUP, fm(rInt, aInt32))
	set(unix.SYS_DUP2, fm(rInt, aInt32, aInt32))
	set(unix.SYS_DUP3, fm(rInt, aInt32, aInt32, aFlagsNoMode))
	set(unix.SYS_PIPE, fm(rInt, aFdPairOut))
	set(unix.SYS_PIPE2, fm(rInt, aFdPairOut, aFlagsNoMode))
	set(unix.SYS_FLOCK, fm(rInt, aInt32, aHex))
	set(unix.SYS_FSYNC, fm(rInt, aInt32))
	set(unix.SYS_FDATASYNC, fm(rInt, aInt32))
	set(unix.SYS_TRUNCATE, fm(rInt, aPath, aInt))
	set(unix.SYS_FTRUNCATE, fm(rInt, aInt32, aInt))
	set(unix.SYS_FALLOCATE, fm(rInt, aInt32, aHex, aInt, aInt))
	set(unix.SYS_FADVISE64, fm(rInt, aInt32, aInt, aUint, aInt32))
	set(unix.SYS_SENDFILE, fm(rInt, aInt32, aInt32, aPtr, aUint))
	set(unix.SYS_GETCWD, fm(rInt, aCwdOut, aUint))
	set(unix.SYS_CHDIR, fm(rInt, aPath))
	set(unix.SYS_FCHDIR, fm(rInt, aInt32))
	set(unix.SYS_CHROOT, fm(rInt, aPath))
	set(unix.SYS_MKDIR, fm(rInt, aPath, aMode))
	set(unix.SYS_MKDIRAT, fm(rInt, aDirFD, aPath, aMode))
	set(unix.SYS_MKNOD, fm(rInt, aPath, aMode, aHex))
	set(unix.SYS_MKNODAT, fm(rInt, aDirFD, aPath, aMode, aHex))
	set(unix.SYS_RMDIR, fm(rInt, aPath))
	set(unix.SYS_UNLINK, fm(rInt, aPath))
	set(unix.SYS_UNLINKAT, fm(rInt, aDirFD, aPath, aUnlinkatFlags))
	set(unix.SYS_RENAME, fm(rInt, aPath, aPath))
	set(unix.SYS_RENAMEAT, fm(rInt, aDirFD, aPath, aDirFD, aPath))
	set(unix.SYS_RENAMEAT2, fm(rInt, aDirFD, aPath, aDirFD, aPath, aRenameFlags))
	set(unix.SYS_LINK, fm(rInt, aPath, aPath))
	set(unix.SYS_LINKAT, fm(rInt, aDirFD, aPath, aDirFD, aPath, aAtFlags))
	set(unix.SYS_SYMLINK, fm(rInt, aPath, aPath))
	set(unix.SYS_SYMLINKAT, fm(rInt, aPath, aDirFD, aPath))
	set(unix.SYS_CHMOD, fm(rInt, aPath, aMode))
	set(unix.SYS_FCHMOD, fm(rInt, aInt32, aMode))
	set(unix.SYS_FCHMODAT, fm(rInt, aDirFD, aPath, aMode))
	set(unix.SYS_FCHMODAT2, fm(rInt, aDirFD, aPath, aMode, aAtFlags))
	set(unix.SYS_CHOWN, fm(rInt, aPath, aInt32, aInt32))
	set(unix.SYS_LCHOWN, fm(rInt, aPath, aInt32, aInt32))
	set(unix.SYS_FCHOWN, fm(rInt, aInt32, aInt32, aInt32))
	set(unix.SYS_FCHOWNAT, fm(rInt, aDirFD, aPath, aInt32, aInt32, aAtFlags))
	set(unix.SYS_UTIMENSAT, fm(rInt, aDirFD, aPath, aPtr, aAtFlags))
	set(unix.SYS_UMASK, fm(rOct, aMode))
	set(unix.SYS_MEMFD_CREATE, fm(rInt, aPath, aMemfdFlags))
	set(unix.SYS_EVENTFD, fm(rInt, aUint))
	set(unix.SYS_EVENTFD2, fm(rInt, aUint, aFlagsNoMode))
	set(unix.SYS_POLL, fm(rInt, aPtr, aUint, aInt32))
	set(unix.SYS_PPOLL, fm(rInt, aPtr, aUint, aTimespecIn, aSigsetIn, aUint))
	set(unix.SYS_SELECT, fm(rInt, aInt32, aPtr, aPtr, aPtr, aPtr))
	set(unix.SYS_PSELECT6, fm(rInt, aInt32, aPtr, aPtr, aPtr, aTimespecIn, aPtr))
	set(unix.SYS_EPOLL_CREATE, fm(rInt, aInt32))
	set(unix.SYS_EPOLL_CREATE1, fm(rInt, aFlagsNoMode))
	set(unix.SYS_EPOLL_CTL, fm(rInt, aInt32, aEpollCtl, aInt32, aPtr))
	set(unix.SYS_EPOLL_WAIT, fm(rInt, aInt32, aPtr, aInt32, aInt32))
	set(unix.SYS_EPOLL_PWAIT, fm(rInt, aInt32, aPtr, aInt32, aInt32, aSigsetIn, aUint))
	set(unix.SYS_MOUNT, fm(rInt, aPath, aPath, aPath, aHex, aPtr))
	set(unix.SYS_UMOUNT2, fm(rInt, aPath, aHex))

	// Memory.
	set(unix.SYS_MMAP, fm(rHex, aPtr, aUint, aProt, aMmapFlags, aInt32, aHex))
	set(unix.SYS_MUNMAP, fm(rInt, aPtr, aUint))
	set(unix.SYS_MPROTECT, fm(rInt, aPtr, aUint, aProt))
	set(unix.SYS_BRK, fm(rHex, aPtr))
	set(unix.SYS_MREMAP, fmx(fixMremap, rHex, aPtr, aUint, aUint, aMremapFlags, aPtr))
	set(unix.SYS_MADVISE, fm(rInt, aPtr, aUint, aMadvise))
	set(unix.SYS_MSYNC, fm(rInt, aPtr, aUint, aHex))
	set(unix.SYS_MINCORE, fm(rInt, aPtr, aUint, aPtr))
	set(unix.SYS_MLOCK, fm(rInt, aPtr, aUint))
	set(unix.SYS_MUNLOCK, fm(rInt, aPtr, aUint))
	set(unix.SYS_MSEAL, fm(rInt, aPtr, aUint, aHex))

	// Processes and threads.
	set(unix.SYS_CLONE, fm(rInt, aCloneFlags, aCloneLabeled, aCloneLabeled, aCloneLabeled, aCloneLabeled))
	set(unix.SYS_CLONE3, fm(rInt, aClone3Args, aUint))
	set(unix.SYS_EXECVE, fm(rInt, aPath, aArgv, aEnvp))
	set(unix.SYS_EXECVEAT, fm(rInt, aDirFD, aPath, aArgv, aEnvp, aAtFlags))
	set(unix.SYS_EXIT, fm(rNone, aInt32))
	set(unix.SYS_EXIT_GROUP, fm(rNone, aInt32))
	set(unix.SYS_WAIT4, fm(rInt, aInt32, aWaitStatusOut, aWaitOptions, aPtr))
	set(unix.SYS_WAITID, fm(rInt, aInt32, aInt32, aPtr, aWaitOptions, aPtr))
	set(unix.SYS_SET_TID_ADDRESS, fm(rInt, aPtr))
	set(unix.SYS_SET_ROBUST_LIST, fm(rInt, aPtr, aUint))
	set(unix.SYS_GET_ROBUST_LIST, fm(rInt, aInt32, aPtr, aPtr))
	set(unix.SYS_RSEQ, fm(rInt, aPtr, aUint, aHex, aHex))
	set(unix.SYS_ARCH_PRCTL, fmx(fixArchPrctl, rInt, aArchPrctl, aHex))
	set(unix.SYS_PRCTL, fmx(fixPrctl, rInt, aPrctl, aHex, aHex, aHex, aHex))
	set(unix.SYS_FUTEX, fmx(fixFutex, rInt, aPtr, aFutexOp, aInt32, aTimespecIn, aPtr, aHex))
	set(unix.SYS_UNSHARE, fm(rInt, aNsFlags))
	set(unix.SYS_SETNS, fm(rInt, aInt32, aNsFlags))
	set(unix.SYS_UNAME, fm(rInt, aUtsnameOut))
	set(unix.SYS_SETUID, fm(rInt, aInt32))
	set(unix.SYS_SETGID, fm(rInt, aInt32))
	set(unix.SYS_SETREUID, fm(rInt, aInt32, aInt32))
	set(unix.SYS_SETREGID, fm(rInt, aInt32, aInt32))
	set(unix.SYS_SETRESUID, fm(rInt, aInt32, aInt32, aInt32))
	set(unix.SYS_SETRESGID, fm(rInt, aInt32, aInt32, aInt32))
	set(unix.SYS_GETRESUID, fm(rInt, aPtr, aPtr, aPtr))
	set(unix.SYS_GETRESGID, fm(rInt, aPtr, aPtr, aPtr))
	set(unix.SYS_GETGROUPS, fm(rInt, aInt32, aPtr))
	set(unix.SYS_SETGROUPS, fm(rInt, aInt32, aPtr))
	set(unix.SYS_SETPGID, fm(rInt, aInt32, aInt32))
	set(unix.SYS_GETPGID, fm(rInt, aInt32))
	set(unix.SYS_GETSID, fm(rInt, aInt32))
	set(unix.SYS_GETPRIORITY, fm(rInt, aInt32, aInt32))
	set(unix.SYS_SETPRIORITY, fm(rInt, aInt32, aInt32, aInt32))
	set(unix.SYS_GETRLIMIT, fm(rInt, aRlimitRes, aRlimitOut))
	set(unix.SYS_SETRLIMIT, fm(rInt, aRlimitRes, aRlimitIn))
	set(unix.SYS_PRLIMIT64, fm(rInt, aInt32, aRlimitRes, aRlimitIn, aRlimitOut))
	set(unix.SYS_GETRUSAGE, fm(rInt, aInt32, aPtr))
	set(unix.SYS_SYSINFO, fm(rInt, aPtr))
	set(unix.SYS_TIMES, fm(rInt, aPtr))
	set(unix.SYS_SCHED_GETAFFINITY, fm(rInt, aInt32, aUint, aPtr))
	set(unix.SYS_SCHED_SETAFFINITY, fm(rInt, aInt32, aUint, aPtr))
	set(unix.SYS_GETCPU, fm(rInt, aPtr, aPtr, aPtr))
	set(unix.SYS_GETRANDOM, fm(rInt, aOutBuf, aUint, aGrndFlags))
	set(unix.SYS_PIDFD_OPEN, fm(rInt, aInt32, aHex))
	set(unix.SYS_PIDFD_SEND_SIGNAL, fm(rInt, aInt32, aSignal, aPtr, aHex))

	// Signals.
	set(unix.SYS_KILL, fm(rInt, aInt32, aSignal))
	set(unix.SYS_TKILL, fm(rInt, aInt32, aSignal))
	set(unix.SYS_TGKILL, fm(rInt, aInt32, aInt32, aSignal))
	set(unix.SYS_RT_SIGACTION, fm(rInt, aSignal, aSigactionIn, aSigactionOut, aUint))
	set(unix.SYS_RT_SIGPROCMASK, fm(rInt, aSigHow, aSigsetIn, aSigsetOut, aUint))
	set(unix.SYS_RT_SIGPENDING, fm(rInt, aSigsetOut, aUint))
	set(unix.SYS_RT_SIGSUSPEND, fm(rInt, aSigsetIn, aUint))
	set(unix.SYS_RT_SIGTIMEDWAIT, fm(rInt, aSigsetIn, aPtr, aTimespecIn, aUint))
	set(unix.SYS_SIGALTSTACK, fm(rInt, aPtr, aPtr))

	// Time.
	set(unix.SYS_CLOCK_GETTIME, fm(rInt, aClockID, aTimespecOut))
	set(unix.SYS_CLOCK_GETRES, fm(rInt, aClockID, aTimespecOut))
	set(unix.SYS_CLOCK_SETTIME, fm(rInt, aClockID, aTimespecIn))
	set(unix.SYS_CLOCK_NANOSLEEP, fm(rInt, aClockID, aTimerFlags, aTimespecIn, aPtr))
	set(unix.SYS_NANOSLEEP, fm(rInt, aTimespecIn, aPtr))
	set(unix.SYS_GETTIMEOFDAY, fm(rInt, aPtr, aPtr))
	set(unix.SYS_TIME, fm(rInt, aPtr))
	set(unix.SYS_ALARM, fm(rInt, aUint))

	// Sockets.
	set(unix.SYS_SOCKET, fm(rInt, aFamily, aSockType, aInt32))
	set(unix.SYS_SOCKETPAIR, fm(rInt, aFamily, aSockType, aInt32, aFdPairOut))
	set(unix.SYS_CONNECT, fm(rInt, aInt32, aPtr, aUint))
	set(unix.SYS_BIND, fm(rInt, aInt32, aPtr, aUint))
	set(unix.SYS_LISTEN, fm(rInt, aInt32, aInt32))
	set(unix.SYS_ACCEPT, fm(rInt, aInt32, aPtr, aPtr))
	set(unix.SYS_ACCEPT4, fm(rInt, aInt32, aPtr, aPtr, aSockFlags))
	set(unix.SYS_SENDTO, fm(rInt, aInt32, aInBuf, aUint, aHex, aPtr, aUint))
	set(unix.SYS_RECVFROM, fm(rInt, aInt32, aOutBuf, aUint, aHex, aPtr, aPtr))
	set(unix.SYS_SENDMSG, fm(rInt, aInt32, aPtr, aHex))
	set(unix.SYS_RECVMSG, fm(rInt, aInt32, aPtr, aHex))
	set(unix.SYS_SHUTDOWN, fm(rInt, aInt32, aInt32))
	set(unix.SYS_GETSOCKNAME, fm(rInt, aInt32, aPtr, aPtr))
	set(unix.SYS_GETPEERNAME, fm(rInt, aInt32, aPtr, aPtr))
	set(unix.SYS_SETSOCKOPT, fm(rInt, aInt32, aInt32, aInt32, aPtr, aUint))
	set(unix.SYS_GETSOCKOPT, fm(rInt, aInt32, aInt32, aInt32, aPtr, aPtr))

	return &t
}

// fixOpenMode shows open's mode argument (at flagsIdx+1) only when the
// flags make the kernel use it, as strace does.
func fixOpenMode(flagsIdx int) func(*record) {
	return func(r *record) {
		flags := r.args[flagsIdx]
		if flags&unix.O_CREAT == 0 && flags&unix.O_TMPFILE != unix.O_TMPFILE {
			r.nargs = flagsIdx + 1
		}
	}
}

func fixFcntl(r *record) {
	switch r.args[1] {
	case unix.F_GETFD:
		r.nargs, r.ret = 2, rFDFlags
	case unix.F_GETFL:
		r.nargs, r.ret = 2, rOpenFlags
	case unix.F_GETOWN, unix.F_GETSIG, unix.F_GETLEASE, unix.F_GETPIPE_SZ, unix.F_GET_SEALS:
		r.nargs = 2
	case unix.F_SETFD:
		r.kinds[2] = aFDFlags
	case unix.F_SETFL:
		r.kinds[2] = aOpenFlags
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK,
		unix.F_OFD_SETLK, unix.F_OFD_SETLKW, unix.F_GETOWN_EX, unix.F_SETOWN_EX:
		r.kinds[2] = aPtr
	case unix.F_SETSIG:
		r.kinds[2] = aSignal
	}
}

func fixIoctl(r *record) {
	switch r.args[1] & 0xffffffff {
	case unix.TIOCGWINSZ:
		r.kinds[2] = aWinsizeOut
	case unix.TIOCSWINSZ:
		r.kinds[2] = aWinsizeIn
	case fionread, unix.TIOCGPGRP, unix.TIOCOUTQ, unix.TIOCGPTN, unix.TIOCGSID, unix.TIOCGETD:
		r.kinds[2] = aIntPtrOut
	case unix.TIOCSPGRP, fionbio, fioasync, unix.TIOCSPTLCK, unix.TIOCSETD:
		r.kinds[2] = aIntPtrIn
	case unix.TIOCNOTTY, fioclex, fionclex, unix.TIOCEXCL, unix.TIOCNXCL:
		r.nargs = 2
	case unix.TCGETS, unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		r.kinds[2] = aPtr
	}
}

func fixMremap(r *record) {
	if r.args[3]&unix.MREMAP_FIXED == 0 {
		r.nargs = 4
	}
}

func fixArchPrctl(r *record) {
	switch r.args[0] {
	case 0x1003, 0x1004: // ARCH_GET_FS, ARCH_GET_GS
		r.kinds[1] = aU64PtrOut
	}
}

func fixPrctl(r *record) {
	switch r.args[0] {
	case unix.PR_SET_NAME:
		r.nargs, r.kinds[1] = 2, aPath
	case unix.PR_GET_NAME:
		r.nargs, r.kinds[1] = 2, aCwdOut
	case unix.PR_GET_DUMPABLE, unix.PR_GET_KEEPCAPS, unix.PR_GET_SECCOMP,
		unix.PR_GET_NO_NEW_PRIVS, unix.PR_GET_THP_DISABLE:
		r.nargs = 1
	case unix.PR_SET_PDEATHSIG:
		r.nargs, r.kinds[1] = 2, aSignal
	case unix.PR_SET_DUMPABLE, unix.PR_SET_KEEPCAPS, unix.PR_SET_CHILD_SUBREAPER,
		unix.PR_CAPBSET_READ, unix.PR_CAPBSET_DROP:
		r.nargs, r.kinds[1] = 2, aInt
	}
}

// fixFutex shows only the arguments the futex operation uses.
func fixFutex(r *record) {
	switch r.args[1] & futexCmdMask {
	case futexWait:
		r.nargs = 4 // uaddr, op, val, timeout
	case futexWake, futexFd:
		r.nargs = 3
	case futexWaitBitset:
		r.nargs = 6 // …, timeout, uaddr2 (unused), bitset
	case futexWakeBitset:
		r.nargs = 6
		r.kinds[3] = aPtr
	case futexRequeue:
		r.nargs, r.kinds[3] = 5, aUint // val2 = requeue count
	case futexCmpRequeue, futexCmpRequeuePi, futexWakeOp:
		r.kinds[3] = aUint
	case futexLockPi, futexLockPi2:
		r.nargs = 4
	case futexUnlockPi, futexTrylockPi:
		r.nargs = 2
	}
}
