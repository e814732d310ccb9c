package strace

import (
	"encoding/binary"
	"strconv"

	"golang.org/x/sys/unix"
)

// argKind says how one syscall argument is decoded.
type argKind uint8

// Argument kinds read or printed at Enter.
const (
	aHex             argKind = iota // 0x1f
	aInt                            // signed long
	aUint                           // unsigned long
	aInt32                          // int (fds, pids, uids, counts)
	aDirFD                          // AT_FDCWD or an fd
	aOct                            // octal
	aPtr                            // NULL or address
	aPath                           // NUL-terminated string, shown whole
	aInBuf                          // buffer whose length is the next argument
	aOpenFlags                      // O_RDONLY|O_CLOEXEC
	aFlagsNoMode                    // O_* without access mode (pipe2, dup3)
	aMode                           // octal permission bits
	aAccessMode                     // F_OK, R_OK|W_OK
	aAtFlags                        // AT_SYMLINK_NOFOLLOW|…
	aUnlinkatFlags                  // AT_REMOVEDIR
	aRenameFlags                    // RENAME_*
	aStatxFlags                     // AT_STATX_SYNC_AS_STAT|…
	aStatxMask                      // STATX_*
	aWhence                         // SEEK_*
	aProt                           // PROT_*
	aMmapFlags                      // MAP_*
	aMremapFlags                    // MREMAP_*
	aMadvise                        // MADV_*
	aIoctlReq                       // TCGETS, …
	aFcntlCmd                       // F_*
	aFDFlags                        // FD_CLOEXEC
	aCloneFlags                     // flags=CLONE_*|SIGCHLD (clone)
	aCloneLabeled                   // clone's labeled pointers
	aClone3Args                     // struct clone_args
	aArgv                           // ["a", "b"]
	aEnvp                           // 0x… /* N vars */
	aSignal                         // SIGTERM
	aSigHow                         // SIG_BLOCK
	aSigsetIn                       // [INT TERM]
	aSigactionIn                    // {sa_handler=…, …}
	aArchPrctl                      // ARCH_SET_FS
	aFutexOp                        // FUTEX_WAIT_PRIVATE
	aClockID                        // CLOCK_MONOTONIC
	aTimerFlags                     // TIMER_ABSTIME
	aTimespecIn                     // {tv_sec=1, tv_nsec=0}
	aRlimitRes                      // RLIMIT_NOFILE
	aRlimitIn                       // {rlim_cur=…, rlim_max=…}
	aWaitOptions                    // WNOHANG|__WALL
	aFamily                         // AF_INET
	aSockType                       // SOCK_STREAM|SOCK_CLOEXEC
	aSockFlags                      // SOCK_CLOEXEC (accept4)
	aGrndFlags                      // GRND_NONBLOCK
	aIovecIn                        // [{iov_base="…", iov_len=5}], count next
	aCloseRangeFlags                // CLOSE_RANGE_*
	aEpollCtl                       // EPOLL_CTL_ADD
	aPrctl                          // PR_SET_NAME
	aMemfdFlags                     // MFD_*
	aIntPtrIn                       // [1]
	aWinsizeIn                      // {ws_row=…, …}
	aNsFlags                        // CLONE_NEWNS|… (unshare, setns)

	// Argument kinds written by the kernel and decoded at Exit, only if
	// the syscall succeeded. aOutBuf must stay first: see aOutStart.
	aOutBuf        // buffer, length = return value
	aStatOut       // {st_mode=S_IFREG|0644, st_size=…, …}
	aStatxOut      // {stx_mask=…, stx_mode=…, …}
	aTimespecOut   // {tv_sec=…, tv_nsec=…}
	aRlimitOut     // {rlim_cur=…, rlim_max=…}
	aSigsetOut     // [INT]
	aSigactionOut  // {sa_handler=…}
	aUtsnameOut    // {sysname="Linux", …}
	aCwdOut        // "/path"
	aReadlinkOut   // "target", length = return value
	aDirentsOut    // 0x… /* N entries */
	aWaitStatusOut // [{WIFEXITED(s) && …}]
	aFdPairOut     // [3, 4]
	aIovecOut      // readv: iovecs filled up to the return value
	aIntPtrOut     // [5]
	aU64PtrOut     // [0x7f…]
	aWinsizeOut    // {ws_row=24, ws_col=80, …}
)

// aOutStart is the first out-argument kind.
const aOutStart = aOutBuf

func (k argKind) isOut() bool { return k >= aOutStart }

// retKind says how a successful return value is printed.
type retKind uint8

const (
	rInt       retKind = iota // signed decimal
	rHex                      // address (mmap, brk)
	rOct                      // umask
	rNone                     // never returns (exit): "?"
	rFDFlags                  // F_GETFD: 0x1 (flags FD_CLOEXEC)
	rOpenFlags                // F_GETFL: 0x8002 (flags O_RDWR|O_LARGEFILE)
)

// Display limits, as strace's defaults (-s 32).
const (
	maxStrLen   = 32   // bytes of a data buffer or argv string shown
	maxPathLen  = 4096 // PATH_MAX
	maxArgv     = 32   // argv entries shown
	maxEnvp     = 4096 // environment entries counted
	maxIovecs   = 4    // iovecs shown
	maxDirents  = 4096 // directory entries counted
	statSize    = 144  // struct stat
	statxSize   = 256  // struct statx
	utsLen      = 65   // one field of struct utsname
	sigactSize  = 32   // struct kernel_sigaction
	cloneArgsV0 = 64   // CLONE_ARGS_SIZE_VER0
	cloneArgsV2 = 88   // CLONE_ARGS_SIZE_VER2
)

var le = binary.LittleEndian

// read copies n bytes at addr into the record's scratch space. It returns
// false if mem is nil, n is too large, or any byte is unreadable.
func (r *record) read(mem Memory, addr uint64, n int) ([]byte, bool) {
	if mem == nil || n < 0 || n > len(r.scratch) {
		return nil, false
	}
	buf := r.scratch[:n]
	if got, err := mem.CopyIn(addr, buf); err != nil || got != n {
		return nil, false
	}
	return buf, true
}

// readString reads a NUL-terminated string of at most max bytes.
func readString(mem Memory, addr uint64, max int) (string, bool) {
	if mem == nil || addr == 0 {
		return "", false
	}
	s, err := mem.CopyInString(addr, max)
	if err != nil {
		return "", false
	}
	return s, true
}

// next returns the argument after i (a length or count), or 0 if i is the
// last one.
func (r *record) next(i int) uint64 {
	if i+1 < len(r.args) {
		return r.args[i+1]
	}
	return 0
}

// appendArg formats in-argument i of kind k.
func (r *record) appendArg(b []byte, i int, k argKind, mem Memory) []byte {
	v := r.args[i]
	switch k {
	case aInt:
		return strconv.AppendInt(b, int64(v), 10)
	case aUint:
		return strconv.AppendUint(b, v, 10)
	case aInt32:
		return strconv.AppendInt(b, int64(int32(v)), 10)
	case aDirFD:
		if int32(v) == unix.AT_FDCWD {
			return append(b, "AT_FDCWD"...)
		}
		return strconv.AppendInt(b, int64(int32(v)), 10)
	case aOct, aMode:
		return appendOct(b, v)
	case aPtr:
		return appendPtr(b, v)
	case aPath:
		if s, ok := readString(mem, v, maxPathLen); ok {
			return appendQuoted(b, s, false)
		}
		return appendPtr(b, v)
	case aInBuf:
		n := r.next(i)
		show := min(n, maxStrLen)
		if buf, ok := r.read(mem, v, int(show)); ok {
			return appendQuoted(b, buf, n > show)
		}
		return appendPtr(b, v)
	case aOpenFlags:
		return appendOpenFlags(b, v)
	case aFlagsNoMode:
		return appendFlags(b, v, openFlagNames, "0")
	case aAccessMode:
		return appendFlags(b, v, accessModeNames, "F_OK")
	case aAtFlags:
		return appendFlags(b, v, atFlagNames, "0")
	case aUnlinkatFlags:
		return appendFlags(b, v, unlinkatFlagNames, "0")
	case aRenameFlags:
		return appendFlags(b, v, renameFlagNames, "0")
	case aStatxFlags:
		b = append(b, "AT_STATX_SYNC_AS_STAT"...)
		if v != 0 {
			b = append(b, '|')
			b = appendFlags(b, v, atFlagNames, "")
		}
		return b
	case aStatxMask:
		return appendFlags(b, v, statxMaskNames, "0")
	case aWhence:
		return appendEnum(b, v, whenceNames)
	case aProt:
		return appendFlags(b, v, protNames, "PROT_NONE")
	case aMmapFlags:
		return appendMmapFlags(b, v)
	case aMremapFlags:
		return appendFlags(b, v, mremapFlagNames, "0")
	case aMadvise:
		return appendEnum(b, v, madviseNames)
	case aIoctlReq:
		return appendEnumHex(b, v&0xffffffff, ioctlNames)
	case aFcntlCmd:
		return appendEnum(b, v, fcntlNames)
	case aFDFlags:
		return appendFlags(b, v, fdFlagNames, "0")
	case aCloneFlags:
		b = append(b, "flags="...)
		return appendCloneFlags(b, v)
	case aNsFlags:
		return appendFlags(b, v, cloneFlagNames, "0")
	case aCloneLabeled:
		switch i {
		case 1:
			b = append(b, "child_stack="...)
		case 2:
			b = append(b, "parent_tid="...)
		case 3:
			b = append(b, "child_tidptr="...)
		case 4:
			b = append(b, "tls="...)
		}
		return appendPtr(b, v)
	case aClone3Args:
		return r.appendClone3Args(b, v, r.next(i), mem)
	case aArgv:
		return r.appendArgv(b, v, mem)
	case aEnvp:
		return r.appendEnvp(b, v, mem)
	case aSignal:
		return appendSignal(b, v)
	case aSigHow:
		return appendEnum(b, v, sigHowNames)
	case aSigsetIn:
		return r.appendSigsetAt(b, v, mem)
	case aSigactionIn:
		return r.appendSigaction(b, v, mem)
	case aArchPrctl:
		return appendEnumHex(b, v, archPrctlNames)
	case aFutexOp:
		return appendFutexOp(b, v)
	case aClockID:
		return appendEnum(b, v, clockNames)
	case aTimerFlags:
		return appendFlags(b, v, timerFlagNames, "0")
	case aTimespecIn:
		return r.appendTimespec(b, v, mem)
	case aRlimitRes:
		return appendEnum(b, v, rlimitNames)
	case aRlimitIn:
		return r.appendRlimit(b, v, mem)
	case aWaitOptions:
		return appendFlags(b, v, waitOptionNames, "0")
	case aFamily:
		return appendEnum(b, v, familyNames)
	case aSockType:
		return appendSockType(b, v)
	case aSockFlags:
		return appendFlags(b, v, sockFlagNames, "0")
	case aGrndFlags:
		return appendFlags(b, v, grndFlagNames, "0")
	case aIovecIn:
		return r.appendIovecs(b, v, r.next(i), ^uint64(0), mem)
	case aCloseRangeFlags:
		return appendFlags(b, v, closeRangeFlagNames, "0")
	case aEpollCtl:
		return appendEnum(b, v, epollCtlNames)
	case aPrctl:
		return appendEnum(b, v, prctlNames)
	case aMemfdFlags:
		return appendFlags(b, v, memfdFlagNames, "0")
	case aIntPtrIn:
		return r.appendIntPtr(b, v, mem)
	case aWinsizeIn:
		return r.appendWinsize(b, v, mem)
	default:
		return appendHex(b, v)
	}
}

// appendOut formats out-argument i of kind k after a successful syscall
// that returned ret.
func (r *record) appendOut(b []byte, i int, k argKind, ret uintptr, mem Memory) []byte {
	v := r.args[i]
	if v == 0 {
		return append(b, "NULL"...)
	}
	switch k {
	case aOutBuf:
		n := uint64(max(int64(ret), 0))
		show := min(n, maxStrLen)
		if buf, ok := r.read(mem, v, int(show)); ok {
			return appendQuoted(b, buf, n > show)
		}
	case aStatOut:
		if buf, ok := r.read(mem, v, statSize); ok {
			return appendStat(b, buf)
		}
	case aStatxOut:
		if buf, ok := r.read(mem, v, statxSize); ok {
			return appendStatx(b, buf)
		}
	case aTimespecOut:
		return r.appendTimespec(b, v, mem)
	case aRlimitOut:
		return r.appendRlimit(b, v, mem)
	case aSigsetOut:
		return r.appendSigsetAt(b, v, mem)
	case aSigactionOut:
		return r.appendSigaction(b, v, mem)
	case aUtsnameOut:
		if buf, ok := r.read(mem, v, 6*utsLen); ok {
			b = append(b, "{sysname="...)
			b = appendQuoted(b, cString(buf[0:utsLen]), false)
			b = append(b, ", nodename="...)
			b = appendQuoted(b, cString(buf[utsLen:2*utsLen]), false)
			return append(b, ", ...}"...)
		}
	case aCwdOut:
		if s, ok := readString(mem, v, maxPathLen); ok {
			return appendQuoted(b, s, false)
		}
	case aReadlinkOut:
		n := uint64(max(int64(ret), 0))
		show := min(n, uint64(len(r.scratch)))
		if buf, ok := r.read(mem, v, int(show)); ok {
			return appendQuoted(b, buf, n > show)
		}
	case aDirentsOut:
		return r.appendDirents(b, v, uint64(ret), mem)
	case aWaitStatusOut:
		if int64(ret) <= 0 {
			break
		}
		if buf, ok := r.read(mem, v, 4); ok {
			return appendWaitStatus(b, le.Uint32(buf))
		}
	case aFdPairOut:
		if buf, ok := r.read(mem, v, 8); ok {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(int32(le.Uint32(buf))), 10)
			b = append(b, ", "...)
			b = strconv.AppendInt(b, int64(int32(le.Uint32(buf[4:]))), 10)
			return append(b, ']')
		}
	case aIovecOut:
		return r.appendIovecs(b, v, r.next(i), uint64(max(int64(ret), 0)), mem)
	case aIntPtrOut:
		return r.appendIntPtr(b, v, mem)
	case aU64PtrOut:
		if buf, ok := r.read(mem, v, 8); ok {
			b = append(b, '[')
			b = appendHex(b, le.Uint64(buf))
			return append(b, ']')
		}
	case aWinsizeOut:
		return r.appendWinsize(b, v, mem)
	}
	return appendPtr(b, v)
}

// appendQuoted appends s as a C string literal, escaped like strace does,
// followed by "..." if more is set (the data was cut).
func appendQuoted[T string | []byte](b []byte, s T, more bool) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\v':
			b = append(b, '\\', 'v')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			if c >= 0x20 && c < 0x7f {
				b = append(b, c)
				continue
			}
			// Octal escape: shortest form unless the next byte is an
			// octal digit, which would be read as part of it.
			b = append(b, '\\')
			if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7' {
				b = append(b, '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
			} else {
				switch {
				case c >= 0100:
					b = append(b, '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
				case c >= 010:
					b = append(b, '0'+c>>3, '0'+c&7)
				default:
					b = append(b, '0'+c)
				}
			}
		}
	}
	b = append(b, '"')
	if more {
		b = append(b, "..."...)
	}
	return b
}

// cString returns buf up to its first NUL.
func cString(buf []byte) []byte {
	for i, c := range buf {
		if c == 0 {
			return buf[:i]
		}
	}
	return buf
}

func appendCloneFlags(b []byte, v uint64) []byte {
	const csignal = 0xff
	sig := v & csignal
	flags := v &^ csignal
	if flags != 0 {
		b = appendFlags(b, flags, cloneFlagNames, "")
		if sig != 0 {
			b = append(b, '|')
		}
	}
	if sig != 0 || flags == 0 {
		b = appendSignal(b, sig)
	}
	return b
}

// appendClone3Args formats struct clone_args (at least its VER0 part).
func (r *record) appendClone3Args(b []byte, addr, size uint64, mem Memory) []byte {
	n := min(size, cloneArgsV2)
	if n < cloneArgsV0 {
		return appendPtr(b, addr)
	}
	buf, ok := r.read(mem, addr, int(n))
	if !ok {
		return appendPtr(b, addr)
	}
	b = append(b, "{flags="...)
	b = appendFlags(b, le.Uint64(buf[0:]), cloneFlagNames, "0")
	labeled := func(b []byte, label string, v uint64) []byte {
		if v == 0 {
			return b
		}
		b = append(b, ", "...)
		b = append(b, label...)
		return appendHex(b, v)
	}
	b = labeled(b, "pidfd=", le.Uint64(buf[8:]))
	b = labeled(b, "child_tid=", le.Uint64(buf[16:]))
	b = labeled(b, "parent_tid=", le.Uint64(buf[24:]))
	b = append(b, ", exit_signal="...)
	b = appendSignal(b, le.Uint64(buf[32:]))
	b = labeled(b, "stack=", le.Uint64(buf[40:]))
	b = labeled(b, "stack_size=", le.Uint64(buf[48:]))
	b = labeled(b, "tls=", le.Uint64(buf[56:]))
	return append(b, '}')
}

// appendArgv formats a NULL-terminated array of strings.
func (r *record) appendArgv(b []byte, addr uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	start := len(b)
	b = append(b, '[')
	for j := uint64(0); ; j++ {
		buf, ok := r.read(mem, addr+8*j, 8)
		if !ok {
			return appendPtr(b[:start], addr)
		}
		p := le.Uint64(buf)
		if p == 0 {
			break
		}
		if j > 0 {
			b = append(b, ", "...)
		}
		if j == maxArgv {
			b = append(b, "..."...)
			break
		}
		s, ok := readString(mem, p, maxPathLen)
		if !ok {
			b = appendPtr(b, p)
			continue
		}
		more := len(s) > maxStrLen
		if more {
			s = s[:maxStrLen]
		}
		b = appendQuoted(b, s, more)
	}
	return append(b, ']')
}

// appendEnvp formats an environment array as its address and length.
func (r *record) appendEnvp(b []byte, addr uint64, mem Memory) []byte {
	b = appendPtr(b, addr)
	if addr == 0 || mem == nil {
		return b
	}
	const batch = len(record{}.scratch) / 8
	count := 0
	for count < maxEnvp {
		buf := r.scratch[:]
		n, _ := mem.CopyIn(addr+uint64(count)*8, buf)
		if n < 8 {
			return b // unreadable: the address alone
		}
		for j := 0; j+8 <= n; j += 8 {
			if le.Uint64(buf[j:]) == 0 {
				goto done
			}
			count++
		}
		if n < batch*8 {
			return b
		}
	}
done:
	b = append(b, " /* "...)
	b = strconv.AppendInt(b, int64(count), 10)
	if count == 1 {
		return append(b, " var */"...)
	}
	return append(b, " vars */"...)
}

func (r *record) appendSigsetAt(b []byte, addr uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	if buf, ok := r.read(mem, addr, 8); ok {
		return appendSigset(b, le.Uint64(buf))
	}
	return appendPtr(b, addr)
}

// appendSigaction formats the kernel's struct sigaction (handler, flags,
// restorer, mask).
func (r *record) appendSigaction(b []byte, addr uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	buf, ok := r.read(mem, addr, sigactSize)
	if !ok {
		return appendPtr(b, addr)
	}
	handler, flags := le.Uint64(buf[0:]), le.Uint64(buf[8:])
	restorer, mask := le.Uint64(buf[16:]), le.Uint64(buf[24:])
	b = append(b, "{sa_handler="...)
	switch handler {
	case 0:
		b = append(b, "SIG_DFL"...)
	case 1:
		b = append(b, "SIG_IGN"...)
	default:
		b = appendHex(b, handler)
	}
	b = append(b, ", sa_mask="...)
	b = appendSigset(b, mask)
	b = append(b, ", sa_flags="...)
	b = appendFlags(b, flags, saFlagNames, "0")
	if flags&saRestorer != 0 {
		b = append(b, ", sa_restorer="...)
		b = appendHex(b, restorer)
	}
	return append(b, '}')
}

func (r *record) appendTimespec(b []byte, addr uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	buf, ok := r.read(mem, addr, 16)
	if !ok {
		return appendPtr(b, addr)
	}
	return appendTimespecFields(b, int64(le.Uint64(buf)), int64(le.Uint64(buf[8:])))
}

func appendTimespecFields(b []byte, sec, nsec int64) []byte {
	b = append(b, "{tv_sec="...)
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, ", tv_nsec="...)
	b = strconv.AppendInt(b, nsec, 10)
	return append(b, '}')
}

func (r *record) appendRlimit(b []byte, addr uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	buf, ok := r.read(mem, addr, 16)
	if !ok {
		return appendPtr(b, addr)
	}
	lim := func(b []byte, v uint64) []byte {
		if v == ^uint64(0) {
			return append(b, "RLIM64_INFINITY"...)
		}
		return strconv.AppendUint(b, v, 10)
	}
	b = append(b, "{rlim_cur="...)
	b = lim(b, le.Uint64(buf))
	b = append(b, ", rlim_max="...)
	b = lim(b, le.Uint64(buf[8:]))
	return append(b, '}')
}

func (r *record) appendIntPtr(b []byte, addr uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	buf, ok := r.read(mem, addr, 4)
	if !ok {
		return appendPtr(b, addr)
	}
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(int32(le.Uint32(buf))), 10)
	return append(b, ']')
}

func (r *record) appendWinsize(b []byte, addr uint64, mem Memory) []byte {
	buf, ok := r.read(mem, addr, 8)
	if !ok {
		return appendPtr(b, addr)
	}
	b = append(b, "{ws_row="...)
	b = strconv.AppendUint(b, uint64(le.Uint16(buf)), 10)
	b = append(b, ", ws_col="...)
	b = strconv.AppendUint(b, uint64(le.Uint16(buf[2:])), 10)
	b = append(b, ", ws_xpixel="...)
	b = strconv.AppendUint(b, uint64(le.Uint16(buf[4:])), 10)
	b = append(b, ", ws_ypixel="...)
	b = strconv.AppendUint(b, uint64(le.Uint16(buf[6:])), 10)
	return append(b, '}')
}

// appendIovecs formats up to maxIovecs of the cnt iovecs at addr, showing
// at most total bytes of data in all (the return value for readv).
func (r *record) appendIovecs(b []byte, addr, cnt, total uint64, mem Memory) []byte {
	if addr == 0 {
		return append(b, "NULL"...)
	}
	start := len(b)
	b = append(b, '[')
	for j := uint64(0); j < cnt; j++ {
		if j > 0 {
			b = append(b, ", "...)
		}
		if j == maxIovecs {
			b = append(b, "..."...)
			break
		}
		iov, ok := r.read(mem, addr+16*j, 16)
		if !ok {
			return appendPtr(b[:start], addr)
		}
		base, length := le.Uint64(iov), le.Uint64(iov[8:])
		avail := min(length, total)
		total -= avail
		show := min(avail, maxStrLen)
		b = append(b, "{iov_base="...)
		if data, ok := r.read(mem, base, int(show)); ok {
			b = appendQuoted(b, data, avail > show)
		} else {
			b = appendPtr(b, base)
		}
		b = append(b, ", iov_len="...)
		b = strconv.AppendUint(b, length, 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendDirents formats a getdents64 buffer as its address and the number
// of entries in its first n bytes.
func (r *record) appendDirents(b []byte, addr, n uint64, mem Memory) []byte {
	b = appendHex(b, addr)
	count := 0
	for off := uint64(0); off < n && count < maxDirents; count++ {
		// struct linux_dirent64: d_ino, d_off, d_reclen (u16 at 16), …
		buf, ok := r.read(mem, addr+off+16, 2)
		if !ok {
			return b
		}
		reclen := uint64(le.Uint16(buf))
		if reclen == 0 {
			return b
		}
		off += reclen
	}
	b = append(b, " /* "...)
	b = strconv.AppendInt(b, int64(count), 10)
	if count == 1 {
		return append(b, " entry */"...)
	}
	return append(b, " entries */"...)
}

// appendWaitStatus formats a wait status the way strace does.
func appendWaitStatus(b []byte, s uint32) []byte {
	b = append(b, "[{"...)
	switch {
	case s == 0xffff:
		b = append(b, "WIFCONTINUED(s)"...)
	case s&0xff == 0x7f:
		b = append(b, "WIFSTOPPED(s) && WSTOPSIG(s) == "...)
		b = appendSignal(b, uint64((s>>8)&0xff))
	case s&0x7f == 0:
		b = append(b, "WIFEXITED(s) && WEXITSTATUS(s) == "...)
		b = strconv.AppendUint(b, uint64((s>>8)&0xff), 10)
	default:
		b = append(b, "WIFSIGNALED(s) && WTERMSIG(s) == "...)
		b = appendSignal(b, uint64(s&0x7f))
		if s&0x80 != 0 {
			b = append(b, " && WCOREDUMP(s)"...)
		}
	}
	return append(b, "}]"...)
}

// appendFileMode formats st_mode: "S_IFREG|0644".
func appendFileMode(b []byte, mode uint32) []byte {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		b = append(b, "S_IFREG|"...)
	case unix.S_IFDIR:
		b = append(b, "S_IFDIR|"...)
	case unix.S_IFCHR:
		b = append(b, "S_IFCHR|"...)
	case unix.S_IFBLK:
		b = append(b, "S_IFBLK|"...)
	case unix.S_IFIFO:
		b = append(b, "S_IFIFO|"...)
	case unix.S_IFLNK:
		b = append(b, "S_IFLNK|"...)
	case unix.S_IFSOCK:
		b = append(b, "S_IFSOCK|"...)
	case 0:
	default:
		b = appendOct(b, uint64(mode&unix.S_IFMT))
		b = append(b, '|')
	}
	return appendOct(b, uint64(mode&07777))
}

func appendMakedev(b []byte, major, minor uint64) []byte {
	b = append(b, "makedev("...)
	b = appendHex(b, major)
	b = append(b, ", "...)
	b = appendHex(b, minor)
	return append(b, ')')
}

// appendStat formats the x86-64 struct stat in buf (statSize bytes).
func appendStat(b []byte, buf []byte) []byte {
	mode := le.Uint32(buf[24:])
	b = append(b, "{st_mode="...)
	b = appendFileMode(b, mode)
	if t := mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		rdev := le.Uint64(buf[40:])
		b = append(b, ", st_rdev="...)
		b = appendMakedev(b, uint64(unix.Major(rdev)), uint64(unix.Minor(rdev)))
	} else {
		b = append(b, ", st_size="...)
		b = strconv.AppendInt(b, int64(le.Uint64(buf[48:])), 10)
	}
	return append(b, ", ...}"...)
}

// appendStatx formats struct statx in buf (statxSize bytes).
func appendStatx(b []byte, buf []byte) []byte {
	mode := uint32(le.Uint16(buf[28:]))
	b = append(b, "{stx_mask="...)
	b = appendFlags(b, uint64(le.Uint32(buf[0:])), statxMaskNames, "0")
	b = append(b, ", stx_attributes="...)
	b = appendHex(b, le.Uint64(buf[8:]))
	b = append(b, ", stx_mode="...)
	b = appendFileMode(b, mode)
	if t := mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		b = append(b, ", stx_rdev_major="...)
		b = strconv.AppendUint(b, uint64(le.Uint32(buf[128:])), 10)
		b = append(b, ", stx_rdev_minor="...)
		b = strconv.AppendUint(b, uint64(le.Uint32(buf[132:])), 10)
	} else {
		b = append(b, ", stx_size="...)
		b = strconv.AppendUint(b, le.Uint64(buf[40:]), 10)
	}
	return append(b, ", ...}"...)
}
