package strace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeMemory is application memory made of a few readable regions.
type fakeMemory struct {
	regions map[uint64][]byte // start address -> contents
}

func newMem() *fakeMemory { return &fakeMemory{regions: make(map[uint64][]byte)} }

func (m *fakeMemory) put(addr uint64, data []byte) *fakeMemory {
	m.regions[addr] = data
	return m
}

func (m *fakeMemory) putString(addr uint64, s string) *fakeMemory {
	return m.put(addr, append([]byte(s), 0))
}

func (m *fakeMemory) putU64s(addr uint64, vs ...uint64) *fakeMemory {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return m.put(addr, b)
}

// find returns the bytes readable from addr on.
func (m *fakeMemory) find(addr uint64) []byte {
	for start, data := range m.regions {
		if addr >= start && addr < start+uint64(len(data)) {
			return data[addr-start:]
		}
	}
	return nil
}

func (m *fakeMemory) CopyIn(addr uint64, dst []byte) (int, error) {
	n := copy(dst, m.find(addr))
	if n < len(dst) {
		return n, unix.EFAULT
	}
	return n, nil
}

func (m *fakeMemory) CopyInString(addr uint64, maxLen int) (string, error) {
	data := m.find(addr)
	if i := bytes.IndexByte(data, 0); i >= 0 {
		if i > maxLen {
			return "", unix.ENAMETOOLONG
		}
		return string(data[:i]), nil
	}
	return "", unix.EFAULT
}

func stat(mode uint32, size int64, rdev uint64) []byte {
	b := make([]byte, statSize)
	binary.LittleEndian.PutUint32(b[24:], mode)
	binary.LittleEndian.PutUint64(b[40:], rdev)
	binary.LittleEndian.PutUint64(b[48:], uint64(size))
	return b
}

func dirents(reclens ...uint16) []byte {
	var b []byte
	for _, l := range reclens {
		e := make([]byte, l)
		binary.LittleEndian.PutUint16(e[16:], l)
		b = append(b, e...)
	}
	return b
}

var errExit = errors.New("task exit")

type call struct {
	name  string
	sysno uintptr
	sys   string // name passed to Enter
	args  [6]uint64
	mem   *fakeMemory
	ret   uintptr
	err   error
	want  string // without the "[pid     7] " prefix and " <…>\n" suffix
}

func negU(v int64) uint64 { return uint64(v) }

func TestFormat(t *testing.T) {
	long := "hello world\n" + strings.Repeat("x", 40)
	tests := []call{
		{
			name: "read with buffer", sysno: unix.SYS_READ, sys: "read",
			args: [6]uint64{3, 0x1000, 4096},
			mem:  newMem().put(0x1000, []byte(long)),
			ret:  uintptr(len(long)),
			want: `read(3, "hello world\nxxxxxxxxxxxxxxxxxxxx"..., 4096) = 52`,
		},
		{
			name: "short read shows only returned bytes", sysno: unix.SYS_READ, sys: "read",
			args: [6]uint64{0, 0x1000, 4096},
			mem:  newMem().put(0x1000, []byte("ab\x00\x01\x1f7\"\\\t")),
			ret:  9,
			want: `read(0, "ab\0\1\0377\"\\\t", 4096) = 9`,
		},
		{
			name: "write", sysno: unix.SYS_WRITE, sys: "write",
			args: [6]uint64{1, 0x2000, 3},
			mem:  newMem().put(0x2000, []byte("hi\n")),
			ret:  3,
			want: `write(1, "hi\n", 3) = 3`,
		},
		{
			name: "pwrite64 bad buffer", sysno: unix.SYS_PWRITE64, sys: "pwrite64",
			args: [6]uint64{5, 0xdead0000, 10, 4096},
			mem:  newMem(),
			err:  unix.EFAULT,
			want: `pwrite64(5, 0xdead0000, 10, 4096) = -1 EFAULT (Bad address)`,
		},
		{
			name: "openat flags", sysno: unix.SYS_OPENAT, sys: "openat",
			args: [6]uint64{negU(unix.AT_FDCWD), 0x3000, unix.O_RDONLY | unix.O_CLOEXEC, 0777},
			mem:  newMem().putString(0x3000, "/etc/passwd"),
			ret:  3,
			want: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3`,
		},
		{
			name: "openat create shows mode", sysno: unix.SYS_OPENAT, sys: "openat",
			args: [6]uint64{4, 0x3000, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | 0x8000, 0644},
			mem:  newMem().putString(0x3000, "out.txt"),
			ret:  5,
			want: `openat(4, "out.txt", O_WRONLY|O_CREAT|O_TRUNC|O_LARGEFILE, 0644) = 5`,
		},
		{
			name: "open error", sysno: unix.SYS_OPEN, sys: "open",
			args: [6]uint64{0x3000, unix.O_RDWR | unix.O_DIRECTORY},
			mem:  newMem().putString(0x3000, "/nope"),
			err:  unix.ENOENT,
			want: `open("/nope", O_RDWR|O_DIRECTORY) = -1 ENOENT (No such file or directory)`,
		},
		{
			name: "openat bad path pointer", sysno: unix.SYS_OPENAT, sys: "openat",
			args: [6]uint64{negU(unix.AT_FDCWD), 0xdead0000, unix.O_RDONLY},
			mem:  newMem(),
			err:  unix.EFAULT,
			want: `openat(AT_FDCWD, 0xdead0000, O_RDONLY) = -1 EFAULT (Bad address)`,
		},
		{
			name: "nil memory", sysno: unix.SYS_OPENAT, sys: "openat",
			args: [6]uint64{negU(unix.AT_FDCWD), 0x3000, unix.O_RDONLY},
			ret:  3,
			want: `openat(AT_FDCWD, 0x3000, O_RDONLY) = 3`,
		},
		{
			name: "wrapped errno", sysno: unix.SYS_CLOSE, sys: "close",
			args: [6]uint64{99},
			err:  fmt.Errorf("fd table: %w", unix.EBADF),
			want: `close(99) = -1 EBADF (Bad file descriptor)`,
		},
		{
			name: "mmap", sysno: unix.SYS_MMAP, sys: "mmap",
			args: [6]uint64{0, 8192, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS, negU(-1), 0},
			ret:  0x7f1234560000,
			want: `mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x7f1234560000`,
		},
		{
			name: "mmap file fixed", sysno: unix.SYS_MMAP, sys: "mmap",
			args: [6]uint64{0x400000, 4096, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_PRIVATE | unix.MAP_FIXED | unix.MAP_DENYWRITE, 3, 0x2000},
			ret:  0x400000,
			want: `mmap(0x400000, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x2000) = 0x400000`,
		},
		{
			name: "mmap error", sysno: unix.SYS_MMAP, sys: "mmap",
			args: [6]uint64{0, 1 << 40, 0, unix.MAP_SHARED, 3, 0},
			err:  unix.ENOMEM,
			want: `mmap(NULL, 1099511627776, PROT_NONE, MAP_SHARED, 3, 0x0) = -1 ENOMEM (Cannot allocate memory)`,
		},
		{
			name: "fstat", sysno: unix.SYS_FSTAT, sys: "fstat",
			args: [6]uint64{3, 0x5000},
			mem:  newMem().put(0x5000, stat(unix.S_IFREG|0644, 1234, 0)),
			want: `fstat(3, {st_mode=S_IFREG|0644, st_size=1234, ...}) = 0`,
		},
		{
			name: "newfstatat char device", sysno: unix.SYS_NEWFSTATAT, sys: "newfstatat",
			args: [6]uint64{negU(unix.AT_FDCWD), 0x3000, 0x5000, unix.AT_SYMLINK_NOFOLLOW},
			mem: newMem().putString(0x3000, "/dev/tty").
				put(0x5000, stat(unix.S_IFCHR|0666, 0, unix.Mkdev(5, 0))),
			want: `newfstatat(AT_FDCWD, "/dev/tty", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x5, 0x0), ...}, AT_SYMLINK_NOFOLLOW) = 0`,
		},
		{
			name: "stat failure prints the out pointer", sysno: unix.SYS_STAT, sys: "stat",
			args: [6]uint64{0x3000, 0x5000},
			mem:  newMem().putString(0x3000, "/missing"),
			err:  unix.ENOENT,
			want: `stat("/missing", 0x5000) = -1 ENOENT (No such file or directory)`,
		},
		{
			name: "fstat unreadable out struct", sysno: unix.SYS_FSTAT, sys: "fstat",
			args: [6]uint64{3, 0xbad000},
			mem:  newMem(),
			want: `fstat(3, 0xbad000) = 0`,
		},
		{
			name: "unknown syscall", sysno: 999, sys: "",
			args: [6]uint64{1, 2, 0xff, 0, 0, 0},
			err:  unix.ENOSYS,
			want: `syscall_999(0x1, 0x2, 0xff, 0x0, 0x0, 0x0) = -1 ENOSYS (Function not implemented)`,
		},
		{
			name: "named but unformatted", sysno: unix.SYS_IO_URING_SETUP, sys: "io_uring_setup",
			args: [6]uint64{8, 0x1000},
			ret:  4,
			want: `io_uring_setup(0x8, 0x1000, 0x0, 0x0, 0x0, 0x0) = 4`,
		},
		{
			name: "exit_group", sysno: unix.SYS_EXIT_GROUP, sys: "exit_group",
			args: [6]uint64{1},
			err:  errExit,
			want: `exit_group(1) = ?`,
		},
		{
			name: "restart", sysno: unix.SYS_NANOSLEEP, sys: "nanosleep",
			args: [6]uint64{0x6000, 0},
			mem:  newMem().putU64s(0x6000, 1, 500000000),
			err:  unix.Errno(516),
			want: `nanosleep({tv_sec=1, tv_nsec=500000000}, NULL) = ? ERESTART_RESTARTBLOCK (Interrupted by signal)`,
		},
		{
			name: "execve", sysno: unix.SYS_EXECVE, sys: "execve",
			args: [6]uint64{0x3000, 0x7000, 0x8000},
			mem: newMem().putString(0x3000, "/bin/ls").
				putU64s(0x7000, 0x7100, 0x7200, 0).
				putString(0x7100, "ls").putString(0x7200, "-l").
				putU64s(0x8000, 0x7100, 0x7100, 0x7100, 0),
			want: `execve("/bin/ls", ["ls", "-l"], 0x8000 /* 3 vars */) = 0`,
		},
		{
			name: "execve bad argv", sysno: unix.SYS_EXECVE, sys: "execve",
			args: [6]uint64{0x3000, 0xbad0, 0},
			mem:  newMem().putString(0x3000, "/bin/true"),
			err:  unix.EFAULT,
			want: `execve("/bin/true", 0xbad0, NULL) = -1 EFAULT (Bad address)`,
		},
		{
			name: "clock_gettime", sysno: unix.SYS_CLOCK_GETTIME, sys: "clock_gettime",
			args: [6]uint64{unix.CLOCK_MONOTONIC, 0x6000},
			mem:  newMem().putU64s(0x6000, 42, 7),
			want: `clock_gettime(CLOCK_MONOTONIC, {tv_sec=42, tv_nsec=7}) = 0`,
		},
		{
			name: "rt_sigprocmask", sysno: unix.SYS_RT_SIGPROCMASK, sys: "rt_sigprocmask",
			args: [6]uint64{unix.SIG_BLOCK, 0x6000, 0x6100, 8},
			mem:  newMem().putU64s(0x6000, 1<<(unix.SIGINT-1)|1<<(unix.SIGTERM-1)).putU64s(0x6100, ^uint64(0)&^(1<<(unix.SIGKILL-1))),
			want: `rt_sigprocmask(SIG_BLOCK, [INT TERM], ~[KILL], 8) = 0`,
		},
		{
			name: "rt_sigaction", sysno: unix.SYS_RT_SIGACTION, sys: "rt_sigaction",
			args: [6]uint64{uint64(unix.SIGCHLD), 0x6000, 0, 8},
			mem:  newMem().putU64s(0x6000, 0x401000, saRestorer|0x10000000, 0x402000, 0),
			want: `rt_sigaction(SIGCHLD, {sa_handler=0x401000, sa_mask=[], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x402000}, NULL, 8) = 0`,
		},
		{
			name: "kill", sysno: unix.SYS_KILL, sys: "kill",
			args: [6]uint64{12, uint64(unix.SIGTERM)},
			want: `kill(12, SIGTERM) = 0`,
		},
		{
			name: "tgkill rt signal", sysno: unix.SYS_TGKILL, sys: "tgkill",
			args: [6]uint64{12, 13, 35},
			err:  unix.ESRCH,
			want: `tgkill(12, 13, SIGRT_3) = -1 ESRCH (No such process)`,
		},
		{
			name: "wait4", sysno: unix.SYS_WAIT4, sys: "wait4",
			args: [6]uint64{negU(-1), 0x6000, unix.WNOHANG, 0},
			mem:  newMem().put(0x6000, []byte{0, 3, 0, 0}),
			ret:  42,
			want: `wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], WNOHANG, NULL) = 42`,
		},
		{
			name: "wait4 signaled", sysno: unix.SYS_WAIT4, sys: "wait4",
			args: [6]uint64{42, 0x6000, 0, 0},
			mem:  newMem().put(0x6000, []byte{9, 0, 0, 0}),
			ret:  42,
			want: `wait4(42, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 42`,
		},
		{
			name: "futex wake", sysno: unix.SYS_FUTEX, sys: "futex",
			args: [6]uint64{0x9000, futexWake | futexPrivate, 1, 0xdead, 0xdead, 0xdead},
			ret:  1,
			want: `futex(0x9000, FUTEX_WAKE_PRIVATE, 1) = 1`,
		},
		{
			name: "futex wait bitset", sysno: unix.SYS_FUTEX, sys: "futex",
			args: [6]uint64{0x9000, futexWaitBitset | futexPrivate | futexClockRealtime, 0, 0, 0, 0xffffffff},
			err:  unix.EAGAIN,
			want: `futex(0x9000, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0xffffffff) = -1 EAGAIN (Resource temporarily unavailable)`,
		},
		{
			name: "fcntl getfl", sysno: unix.SYS_FCNTL, sys: "fcntl",
			args: [6]uint64{3, unix.F_GETFL},
			ret:  unix.O_RDWR | 0x8000,
			want: `fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)`,
		},
		{
			name: "fcntl setfd", sysno: unix.SYS_FCNTL, sys: "fcntl",
			args: [6]uint64{3, unix.F_SETFD, unix.FD_CLOEXEC},
			want: `fcntl(3, F_SETFD, FD_CLOEXEC) = 0`,
		},
		{
			name: "fcntl dupfd", sysno: unix.SYS_FCNTL, sys: "fcntl",
			args: [6]uint64{3, unix.F_DUPFD_CLOEXEC, 10},
			ret:  10,
			want: `fcntl(3, F_DUPFD_CLOEXEC, 10) = 10`,
		},
		{
			name: "ioctl winsize", sysno: unix.SYS_IOCTL, sys: "ioctl",
			args: [6]uint64{1, unix.TIOCGWINSZ, 0x6000},
			mem:  newMem().put(0x6000, []byte{24, 0, 80, 0, 0, 0, 0, 0}),
			want: `ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0`,
		},
		{
			name: "ioctl unknown", sysno: unix.SYS_IOCTL, sys: "ioctl",
			args: [6]uint64{1, unix.TCGETS, 0x6000},
			err:  unix.ENOTTY,
			want: `ioctl(1, TCGETS, 0x6000) = -1 ENOTTY (Inappropriate ioctl for device)`,
		},
		{
			name: "clone", sysno: unix.SYS_CLONE, sys: "clone",
			args: [6]uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID, 0x7000, 0x7100, 0x7100, 0x7200},
			ret:  43,
			want: `clone(flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_stack=0x7000, parent_tid=0x7100, child_tidptr=0x7100, tls=0x7200) = 43`,
		},
		{
			name: "fork-like clone", sysno: unix.SYS_CLONE, sys: "clone",
			args: [6]uint64{unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID | uint64(unix.SIGCHLD), 0, 0, 0x7100, 0},
			ret:  44,
			want: `clone(flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_stack=NULL, parent_tid=NULL, child_tidptr=0x7100, tls=NULL) = 44`,
		},
		{
			name: "clone3", sysno: unix.SYS_CLONE3, sys: "clone3",
			args: [6]uint64{0x6000, 88},
			mem:  newMem().putU64s(0x6000, unix.CLONE_VM|unix.CLONE_VFORK, 0, 0, 0, uint64(unix.SIGCHLD), 0x10000, 0x2000, 0, 0, 0, 0),
			ret:  45,
			want: `clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x10000, stack_size=0x2000}, 88) = 45`,
		},
		{
			name: "arch_prctl", sysno: unix.SYS_ARCH_PRCTL, sys: "arch_prctl",
			args: [6]uint64{0x1002, 0x7f0000001000},
			want: `arch_prctl(ARCH_SET_FS, 0x7f0000001000) = 0`,
		},
		{
			name: "prlimit64", sysno: unix.SYS_PRLIMIT64, sys: "prlimit64",
			args: [6]uint64{0, unix.RLIMIT_NOFILE, 0, 0x6000},
			mem:  newMem().putU64s(0x6000, 1024, ^uint64(0)),
			want: `prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=1024, rlim_max=RLIM64_INFINITY}) = 0`,
		},
		{
			name: "getdents64", sysno: unix.SYS_GETDENTS64, sys: "getdents64",
			args: [6]uint64{3, 0xa000, 32768},
			mem:  newMem().put(0xa000, dirents(24, 24, 32)),
			ret:  80,
			want: `getdents64(3, 0xa000 /* 3 entries */, 32768) = 80`,
		},
		{
			name: "lseek", sysno: unix.SYS_LSEEK, sys: "lseek",
			args: [6]uint64{3, negU(-10), unix.SEEK_END},
			ret:  90,
			want: `lseek(3, -10, SEEK_END) = 90`,
		},
		{
			name: "readlinkat", sysno: unix.SYS_READLINKAT, sys: "readlinkat",
			args: [6]uint64{negU(unix.AT_FDCWD), 0x3000, 0x4000, 4096},
			mem:  newMem().putString(0x3000, "/proc/self/exe").put(0x4000, []byte("/bin/shXXXX")),
			ret:  7,
			want: `readlinkat(AT_FDCWD, "/proc/self/exe", "/bin/sh", 4096) = 7`,
		},
		{
			name: "writev", sysno: unix.SYS_WRITEV, sys: "writev",
			args: [6]uint64{1, 0x6000, 2},
			mem:  newMem().putU64s(0x6000, 0x7000, 2, 0x7100, 1).put(0x7000, []byte("ab")).put(0x7100, []byte("\n")),
			ret:  3,
			want: `writev(1, [{iov_base="ab", iov_len=2}, {iov_base="\n", iov_len=1}], 2) = 3`,
		},
		{
			name: "pipe2", sysno: unix.SYS_PIPE2, sys: "pipe2",
			args: [6]uint64{0x6000, unix.O_CLOEXEC},
			mem:  newMem().put(0x6000, []byte{3, 0, 0, 0, 4, 0, 0, 0}),
			want: `pipe2([3, 4], O_CLOEXEC) = 0`,
		},
		{
			name: "socket", sysno: unix.SYS_SOCKET, sys: "socket",
			args: [6]uint64{unix.AF_INET6, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0},
			ret:  5,
			want: `socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0) = 5`,
		},
		{
			name: "umask", sysno: unix.SYS_UMASK, sys: "umask",
			args: [6]uint64{077},
			ret:  022,
			want: `umask(077) = 022`,
		},
		{
			name: "uname", sysno: unix.SYS_UNAME, sys: "uname",
			args: [6]uint64{0xb000},
			mem: func() *fakeMemory {
				b := make([]byte, 6*utsLen)
				copy(b, "Linux")
				copy(b[utsLen:], "sandbox")
				return newMem().put(0xb000, b)
			}(),
			want: `uname({sysname="Linux", nodename="sandbox", ...}) = 0`,
		},
		{
			name: "getcwd", sysno: unix.SYS_GETCWD, sys: "getcwd",
			args: [6]uint64{0x4000, 4096},
			mem:  newMem().putString(0x4000, "/root"),
			ret:  6,
			want: `getcwd("/root", 4096) = 6`,
		},
		{
			name: "getrandom", sysno: unix.SYS_GETRANDOM, sys: "getrandom",
			args: [6]uint64{0x4000, 4, unix.GRND_NONBLOCK},
			mem:  newMem().put(0x4000, []byte{0xff, 'a', 0x10, '1'}),
			ret:  4,
			want: `getrandom("\377a\0201", 4, GRND_NONBLOCK) = 4`,
		},
		{
			name: "faccessat", sysno: unix.SYS_FACCESSAT, sys: "faccessat",
			args: [6]uint64{negU(unix.AT_FDCWD), 0x3000, unix.R_OK | unix.X_OK},
			mem:  newMem().putString(0x3000, "/bin/sh"),
			want: `faccessat(AT_FDCWD, "/bin/sh", R_OK|X_OK) = 0`,
		},
		{
			name: "no arguments", sysno: unix.SYS_GETPID, sys: "getpid",
			ret:  7,
			want: `getpid() = 7`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := New(&out)
			var mem Memory
			if tc.mem != nil {
				mem = tc.mem
			}
			e := f.Enter(7, tc.sysno, tc.sys, tc.args, mem)
			f.Exit(e, tc.ret, tc.err, 10*time.Microsecond, mem)
			want := "[pid     7] " + tc.want + " <0.000010>\n"
			if got := out.String(); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestInArgsCapturedAtEnter checks that a write buffer and a path are read
// before the syscall runs, and out-args after.
func TestInArgsCapturedAtEnter(t *testing.T) {
	var out bytes.Buffer
	f := New(&out)
	mem := newMem().putString(0x3000, "/a").put(0x4000, make([]byte, statSize))
	e := f.Enter(1, unix.SYS_NEWFSTATAT, "newfstatat", [6]uint64{negU(unix.AT_FDCWD), 0x3000, 0x4000, 0}, mem)
	// The syscall changes the path buffer and fills in the stat struct.
	copy(mem.regions[0x3000], "/b")
	copy(mem.regions[0x4000], stat(unix.S_IFDIR|0755, 4096, 0))
	f.Exit(e, 0, nil, 1500*time.Millisecond, mem)
	want := `[pid     1] newfstatat(AT_FDCWD, "/a", {st_mode=S_IFDIR|0755, st_size=4096, ...}, 0) = 0 <1.500000>` + "\n"
	if got := out.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestZeroEntry checks that Exit ignores a zero Entry.
func TestZeroEntry(t *testing.T) {
	var out bytes.Buffer
	New(&out).Exit(Entry{}, 0, nil, 0, nil)
	if out.Len() != 0 {
		t.Errorf("wrote %q", out.String())
	}
}

// TestHostileArguments runs every formatted syscall with pointers that are
// unmapped, NULL or partially mapped, and huge lengths: nothing may panic
// and every line must be complete.
func TestHostileArguments(t *testing.T) {
	var out bytes.Buffer
	f := New(&out)
	// A region whose end is mid-struct and full of 0xff.
	junk := bytes.Repeat([]byte{0xff}, 100)
	mem := newMem().put(0x1000, junk)
	values := []uint64{0, 0x1000, 0x1000 + 96, ^uint64(0), 1 << 63}
	for nr := uintptr(0); nr < maxSysno; nr++ {
		for _, v := range values {
			args := [6]uint64{v, v, v, v, v, v}
			for _, err := range []error{nil, unix.EFAULT} {
				out.Reset()
				e := f.Enter(1, nr, "x", args, mem)
				f.Exit(e, uintptr(v), err, time.Millisecond, mem)
				line := out.String()
				if !strings.HasPrefix(line, "[pid     1] ") || !strings.HasSuffix(line, " <0.001000>\n") || strings.Count(line, "\n") != 1 {
					t.Fatalf("syscall %d args %#x: bad line %q", nr, v, line)
				}
			}
		}
	}
}

// syncBuffer is a writer that records each Write as one line.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.lines = append(s.lines, string(p))
	s.mu.Unlock()
	return len(p), nil
}

// TestConcurrent checks that several tasks can share one Formatter and
// that each Write is exactly one whole line.
func TestConcurrent(t *testing.T) {
	w := &syncBuffer{}
	f := New(w)
	const tasks, calls = 8, 200
	var wg sync.WaitGroup
	for tid := int32(1); tid <= tasks; tid++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mem := newMem().put(0x1000, []byte(fmt.Sprintf("task %d data", tid)))
			for i := 0; i < calls; i++ {
				e := f.Enter(tid, unix.SYS_WRITE, "write", [6]uint64{1, 0x1000, 11}, mem)
				f.Exit(e, 11, nil, time.Microsecond, mem)
			}
		}()
	}
	wg.Wait()
	if len(w.lines) != tasks*calls {
		t.Fatalf("got %d lines, want %d", len(w.lines), tasks*calls)
	}
	for _, l := range w.lines {
		var tid int
		if _, err := fmt.Sscanf(l, "[pid %d]", &tid); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		want := fmt.Sprintf("[pid %5d] write(1, %q, 11) = 11 <0.000001>\n", tid, fmt.Sprintf("task %d data", tid)[:11])
		if l != want {
			t.Fatalf("got %q, want %q", l, want)
		}
	}
}

// discard is an io.Writer that does nothing.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestAllocs checks that formatting a read, a write and an mmap does not
// allocate once the Formatter is warm.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	f := New(discard{})
	mem := newMem().put(0x1000, []byte("some data for the buffer, longer than 32 bytes"))
	run := func() {
		e := f.Enter(3, unix.SYS_WRITE, "write", [6]uint64{1, 0x1000, 40}, mem)
		f.Exit(e, 40, nil, time.Microsecond, mem)
		e = f.Enter(3, unix.SYS_READ, "read", [6]uint64{1, 0x1000, 40}, mem)
		f.Exit(e, 0, unix.EINTR, time.Microsecond, mem)
		e = f.Enter(3, unix.SYS_MMAP, "mmap", [6]uint64{0, 4096, 3, 0x22, negU(-1), 0}, mem)
		f.Exit(e, 0x7f0000000000, nil, time.Microsecond, mem)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n > 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkWrite(b *testing.B) {
	f := New(discard{})
	mem := newMem().put(0x1000, []byte("some data for the buffer, longer than 32 bytes"))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e := f.Enter(3, unix.SYS_WRITE, "write", [6]uint64{1, 0x1000, 40}, mem)
		f.Exit(e, 40, nil, time.Microsecond, mem)
	}
}
