//go:build linux && amd64

package fence

import (
	"golang.org/x/sys/unix"
)

// The sentry's host syscall allow-list. Each entry is one line: the
// syscall, its name (TestRules pins the set), and the argument checks
// where they are cheap and narrow something real. README.md explains
// each group. The order is the filter's: every sentry syscall walks the
// list from the top, so the hot paths (the ptrace platform's Switch,
// futexes, host reads and writes) come first.

// goThreadCloneFlags are the flags of the Go runtime's clone(2) of a new
// thread (runtime/os_linux.go cloneFlags): the only clone the sentry
// makes once it runs, with CLONE_SETTLS when it sets the new thread's
// TLS (runtime/sys_linux_amd64.s) (the ptrace platform forks its pre-made stub before
// the filter is installed; later stubs are cloned by injection, in the
// stubs).
const goThreadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_SYSVSEM | unix.CLONE_THREAD

// fionread is FIONREAD on amd64.
const fionread = 0x541B

// ptraceRequests are the requests platform/ptrace makes on its stubs.
var ptraceRequests = OneOf(0,
	unix.PTRACE_SYSEMU, unix.PTRACE_GETREGS, unix.PTRACE_SETREGS, unix.PTRACE_CONT,
	unix.PTRACE_GETSIGINFO, unix.PTRACE_GETREGSET, unix.PTRACE_SETREGSET,
	unix.PTRACE_GETFPREGS, unix.PTRACE_SETFPREGS, unix.PTRACE_INTERRUPT,
	unix.PTRACE_SEIZE, unix.PTRACE_SETOPTIONS, unix.PTRACE_GETEVENTMSG,
	unix.PTRACE_DETACH, unix.PTRACE_GET_RSEQ_CONFIGURATION)

// ttyIoctls are the requests fs/host makes on donated descriptors.
var ttyIoctls = OneOf(1,
	unix.TCGETS, unix.TCSETS, unix.TCSETSW, unix.TCSETSF,
	unix.TIOCGWINSZ, unix.TIOCSWINSZ, fionread)

// noExec refuses executable mappings: the sentry never makes code after
// start-up (the stub page is mapped before the filter).
var noExec = []Args{Arg2(NoBits(unix.PROT_EXEC))}

var baseRules = []Rule{
	// The ptrace platform: Switch, Interrupt, stub threads, Release.
	{unix.SYS_PTRACE, "ptrace", ptraceRequests},
	{unix.SYS_WAIT4, "wait4", nil},
	{unix.SYS_FUTEX, "futex", nil},
	{unix.SYS_TGKILL, "tgkill", nil},
	{unix.SYS_GETCPU, "getcpu", nil},
	{unix.SYS_SCHED_SETAFFINITY, "sched_setaffinity", nil},
	{unix.SYS_KILL, "kill", []Args{Arg1(Eq(uint64(unix.SIGKILL)))}},

	// Host descriptors: the memory file, donated stdio and gofer files,
	// the gofer and control connections.
	{unix.SYS_READ, "read", nil},
	{unix.SYS_WRITE, "write", nil},
	{unix.SYS_PREAD64, "pread64", nil},
	{unix.SYS_PWRITE64, "pwrite64", nil},
	{unix.SYS_READV, "readv", nil},
	{unix.SYS_WRITEV, "writev", nil},
	{unix.SYS_PREADV, "preadv", nil},
	{unix.SYS_PWRITEV, "pwritev", nil},
	{unix.SYS_RECVMSG, "recvmsg", nil},
	{unix.SYS_SENDMSG, "sendmsg", nil},
	{unix.SYS_EPOLL_PWAIT, "epoll_pwait", nil},
	{unix.SYS_EPOLL_WAIT, "epoll_wait", nil},
	{unix.SYS_EPOLL_CTL, "epoll_ctl", nil},
	{unix.SYS_POLL, "poll", nil},
	{unix.SYS_PPOLL, "ppoll", nil},
	{unix.SYS_LSEEK, "lseek", nil},
	// sendfile is set by Rules: into the memory file only.
	{unix.SYS_FSTAT, "fstat", nil},
	{unix.SYS_FCNTL, "fcntl", nil},
	{unix.SYS_IOCTL, "ioctl", ttyIoctls},
	{unix.SYS_FSYNC, "fsync", nil},
	{unix.SYS_FDATASYNC, "fdatasync", nil},
	{unix.SYS_FTRUNCATE, "ftruncate", nil},
	{unix.SYS_FALLOCATE, "fallocate", nil},
	{unix.SYS_CLOSE, "close", nil},
	{unix.SYS_SHUTDOWN, "shutdown", nil},
	{unix.SYS_ACCEPT4, "accept4", nil},
	{unix.SYS_GETSOCKOPT, "getsockopt", nil},
	// Go's net package asks an accepted connection's local address.
	{unix.SYS_GETSOCKNAME, "getsockname", nil},

	// Memory: the Go heap and the sentry's views of the memory file.
	{unix.SYS_MMAP, "mmap", noExec},
	{unix.SYS_MUNMAP, "munmap", nil},
	{unix.SYS_MADVISE, "madvise", nil},
	// Which pages of the memory file have host memory (mincore(2) of
	// application memory after MADV_DONTNEED gave some back).
	{unix.SYS_MINCORE, "mincore", nil},
	{unix.SYS_MPROTECT, "mprotect", noExec},

	// The Go runtime: threads, signals, timers, the netpoller.
	{unix.SYS_CLONE, "clone", OneOf(0, goThreadCloneFlags|unix.CLONE_SETTLS, goThreadCloneFlags)},
	{unix.SYS_SCHED_YIELD, "sched_yield", nil},
	{unix.SYS_NANOSLEEP, "nanosleep", nil},
	{unix.SYS_CLOCK_NANOSLEEP, "clock_nanosleep", nil},
	{unix.SYS_CLOCK_GETTIME, "clock_gettime", nil},
	{unix.SYS_CLOCK_GETRES, "clock_getres", nil},
	{unix.SYS_GETTID, "gettid", nil},
	{unix.SYS_GETPID, "getpid", nil},
	{unix.SYS_RT_SIGACTION, "rt_sigaction", nil},
	{unix.SYS_RT_SIGPROCMASK, "rt_sigprocmask", nil},
	{unix.SYS_RT_SIGRETURN, "rt_sigreturn", nil},
	{unix.SYS_SIGALTSTACK, "sigaltstack", nil},
	{unix.SYS_RESTART_SYSCALL, "restart_syscall", nil},
	{unix.SYS_EPOLL_CREATE1, "epoll_create1", nil},
	{unix.SYS_EVENTFD2, "eventfd2", nil},
	{unix.SYS_PIPE2, "pipe2", nil},
	{unix.SYS_SCHED_GETAFFINITY, "sched_getaffinity", nil},
	{unix.SYS_GETRLIMIT, "getrlimit", nil},
	{unix.SYS_GETRANDOM, "getrandom", nil},
	// Names of the heap's mappings ("[anon: Go: ...]", Go 1.25's
	// decoratemappings), on kernels with CONFIG_ANON_VMA_NAME.
	{unix.SYS_PRCTL, "prctl", []Args{{Eq(unix.PR_SET_VMA), Eq(unix.PR_SET_VMA_ANON_NAME)}}},
	{unix.SYS_EXIT, "exit", nil},
	{unix.SYS_EXIT_GROUP, "exit_group", nil},

	// The sentry's view of the host: sysinfo for /proc/meminfo and
	// sysinfo(2), the caller's ids for exec's default user.
	{unix.SYS_SYSINFO, "sysinfo", nil},
	{unix.SYS_GETUID, "getuid", nil},
	{unix.SYS_GETGID, "getgid", nil},
	{unix.SYS_GETGROUPS, "getgroups", nil},
}

// Options are the run-time settings that change the allow-list. A
// variant (e.g. --network=host) adds a []Rule of its own in Rules, one
// reviewed block per setting.
type Options struct {
	// Debug makes a denied syscall raise SIGSYS (SECCOMP_RET_TRAP)
	// instead of killing the process: the Go runtime then prints the
	// syscall's stack before dying, so a missing entry is diagnosable.
	Debug bool
	// LogOnly lets denied syscalls through and logs them to the kernel's
	// audit log (SECCOMP_RET_LOG; dmesg shows "type=1326 ... syscall=N"):
	// for collecting the list empirically, never for production.
	LogOnly bool
	// HostNetwork (--network=host) adds hostNetworkRules: the sentry
	// opens and drives host TCP/UDP sockets for the application
	// (sentry/socket/hostinet).
	HostNetwork bool
	// HostUDS (--host-uds=create or all) adds hostUDSRules: the
	// sentry calls listen(2) on host unix sockets the gofer bound for
	// it (sentry/socket/unix, host.go).
	HostUDS bool
	// MemoryFD is the memory file's descriptor, the only one sendfile
	// may write to (memfile.MemoryFile.ReadFrom: page cache fills of
	// gofer files).
	MemoryFD int
}

// Rules returns the allow-list for opts.
func Rules(opts Options) []Rule {
	rules := append([]Rule(nil), baseRules...)
	rules = append(rules, Rule{unix.SYS_SENDFILE, "sendfile", []Args{Arg0(Eq(uint64(opts.MemoryFD)))}})
	if opts.HostNetwork {
		for i := range rules {
			if rules[i].Nr == unix.SYS_IOCTL {
				rules[i].Any = hostNetIoctls
			}
		}
		rules = append(rules, hostNetworkRules...)
	}
	if opts.HostUDS {
		for _, r := range hostUDSRules {
			if !hasRule(rules, r.Nr) {
				rules = append(rules, r)
			}
		}
	}
	return rules
}

// hostSocketTypes are the only socket(2) calls of sentry/socket/hostinet:
// TCP and UDP over IPv4 and IPv6, always non-blocking and close-on-exec
// (raw, packet and netlink sockets are refused before they reach the
// host).
var hostSocketTypes = func() []Args {
	var any []Args
	for _, family := range []uint64{unix.AF_INET, unix.AF_INET6} {
		for _, typ := range []uint64{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
			for _, proto := range []uint64{0, unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
				any = append(any, Args{Eq(family), Eq(typ | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC), Eq(proto)})
			}
		}
	}
	return any
}()

// hostNetIoctls are ttyIoctls plus the socket queries hostinet forwards
// (FIONREAD is already among them).
var hostNetIoctls = OneOf(1,
	unix.TCGETS, unix.TCSETS, unix.TCSETSW, unix.TCSETSF,
	unix.TIOCGWINSZ, unix.TIOCSWINSZ, fionread, unix.TIOCOUTQ, unix.SIOCATMARK)

// hostNetworkRules are the syscalls --network=host adds. Reads, writes,
// accept4, shutdown, getsockopt, getsockname and the epoll calls are in
// baseRules already (the control and gofer connections use them).
var hostNetworkRules = []Rule{
	{unix.SYS_SOCKET, "socket", hostSocketTypes},
	{unix.SYS_BIND, "bind", nil},
	{unix.SYS_CONNECT, "connect", nil},
	{unix.SYS_LISTEN, "listen", nil},
	{unix.SYS_GETPEERNAME, "getpeername", nil},
	{unix.SYS_SETSOCKOPT, "setsockopt", nil},
}

// hostUDSRules are the syscalls --host-uds=create adds. The gofer makes,
// binds and donates the host socket (gofer/server_socket.go); the sentry
// only calls listen(2) on it when the application does, so that its
// backlog and the moment it starts accepting are the application's. Data,
// accept4, shutdown, getsockopt (SO_PEERCRED) and FIONREAD are in
// baseRules already.
var hostUDSRules = []Rule{
	{unix.SYS_LISTEN, "listen", nil},
}

// hasRule reports whether rules has one for nr.
func hasRule(rules []Rule, nr uintptr) bool {
	for _, r := range rules {
		if r.Nr == nr {
			return true
		}
	}
	return false
}

// denyAction is the filter's action for a syscall it does not allow.
func (o Options) denyAction() uint32 {
	switch {
	case o.LogOnly:
		return RetLog
	case o.Debug:
		return RetTrap
	}
	return RetKillProcess
}
