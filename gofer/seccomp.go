//go:build linux && amd64

package gofer

import (
	"runtime"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// AllowedSyscalls is the gofer's seccomp allow-list: what the server's
// file operations and the Go runtime need, nothing else (no socket,
// connect, execve, ptrace, mount, open by absolute path is possible only
// through openat, which the server always calls on a descriptor). Any
// other syscall kills the gofer (SECCOMP_RET_KILL_PROCESS); the sentry then
// sees EIO. TestAllowedSyscalls fails when this list changes unnoticed.
//
// One call is allowed with arguments only, outside this list: prctl(2)
// with PR_SET_VMA, PR_SET_VMA_ANON_NAME (see filterProgram).
var AllowedSyscalls = []uintptr{
	// The server.
	unix.SYS_RECVMSG, unix.SYS_SENDMSG, unix.SYS_SHUTDOWN, unix.SYS_CLOSE,
	unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_NEWFSTATAT, unix.SYS_FSTAT,
	unix.SYS_FSTATFS, unix.SYS_READLINKAT, unix.SYS_GETDENTS64, unix.SYS_LSEEK,
	unix.SYS_FCNTL, unix.SYS_MKDIRAT, unix.SYS_MKNODAT, unix.SYS_SYMLINKAT,
	unix.SYS_LINKAT, unix.SYS_UNLINKAT, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2, unix.SYS_FCHOWNAT,
	unix.SYS_FCHOWN, unix.SYS_FCHMOD, unix.SYS_FTRUNCATE, unix.SYS_UTIMENSAT,
	unix.SYS_FGETXATTR, unix.SYS_FLISTXATTR, unix.SYS_FSETXATTR, unix.SYS_FREMOVEXATTR,
	// The attributes of symlinks, by parent and name (placeholder.go).
	unix.SYS_GETXATTRAT, unix.SYS_LISTXATTRAT, unix.SYS_SETXATTRAT, unix.SYS_REMOVEXATTRAT,
	// The Go runtime: memory, threads, signals, time, stderr.
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MADVISE, unix.SYS_MPROTECT,
	unix.SYS_FUTEX, unix.SYS_CLONE, unix.SYS_GETTID, unix.SYS_GETPID,
	unix.SYS_TGKILL, unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK,
	unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK, unix.SYS_SCHED_YIELD,
	unix.SYS_NANOSLEEP, unix.SYS_CLOCK_GETTIME, unix.SYS_CLOCK_NANOSLEEP,
	unix.SYS_EXIT, unix.SYS_EXIT_GROUP, unix.SYS_WRITE, unix.SYS_READ,
	unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_CTL, unix.SYS_GETRLIMIT,
	unix.SYS_SCHED_GETAFFINITY, unix.SYS_RESTART_SYSCALL,
	// The runtime re-reads its cgroup CPU limit on descriptors it opened
	// at start-up (GOMAXPROCS follows container limits).
	unix.SYS_PREAD64,
	// The runtime's netpoller, set up on first timer use (the GC's
	// scavenger); InstallFilter sets it up first, these are a fallback.
	unix.SYS_EPOLL_CREATE1, unix.SYS_EVENTFD2,
}

// HostUDSSyscalls are added to AllowedSyscalls when the server may make
// host unix sockets (--host-uds other than none; server_socket.go):
// socket only with domain AF_UNIX (checked by the filter), connect and
// bind (on the only sockets the gofer can then have: unix ones; the
// sentry itself calls listen on a bound socket),
// fchdir (to /proc/self/fd and back, around connect and bind) and
// fchmodat (the mode of a bound socket file, through its magic link).
// TestAllowedSyscalls pins this list too.
var HostUDSSyscalls = []uintptr{
	unix.SYS_SOCKET, unix.SYS_CONNECT, unix.SYS_BIND,
	unix.SYS_FCHDIR, unix.SYS_FCHMODAT,
}

// FilterOptions are the run-time settings that widen the allow-list.
type FilterOptions struct {
	// HostUDS adds HostUDSSyscalls (the server's policy is not
	// HostUDSNone).
	HostUDS bool
}

// filterProgram builds the classic BPF program: wrong architecture or a
// syscall not allowed kills the process. socket(2) (only with HostUDS)
// is allowed for AF_UNIX alone.
//
// prctl(2) is allowed as prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, ...)
// only, the same form as runsc/fence allows the sentry: Go >= 1.25
// (runtime/set_vma_name_linux.go, GODEBUG decoratemappings=1) names
// anonymous mappings with it at every heap mapping change (sysAlloc,
// sysMap, sysUsed, sysUnused, ...), not once: it stops only after an
// EINVAL, which a kernel without CONFIG_ANON_VMA_NAME gives at the first
// call, before the filter. On a kernel with it the calls succeed, and the
// first heap growth under the filter would kill the gofer. Allowed rather
// than answered with SECCOMP_RET_ERRNO(EINVAL): it reaches the kernel's
// madvise VMA walk (mm/madvise.c, madvise_set_anon_name), which the
// allowed madvise(2) reaches anyway, and it relies on no error handling
// of the runtime's. Any other prctl still kills.
func filterProgram(o FilterOptions) ([]unix.SockFilter, error) {
	nrs := append([]uintptr(nil), AllowedSyscalls...)
	if o.HostUDS {
		for _, nr := range HostUDSSyscalls {
			if nr != unix.SYS_SOCKET {
				nrs = append(nrs, nr)
			}
		}
	}
	sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
	var b bpf.Assembler
	b.LoadAbs(bpf.SeccompDataArch)
	b.JEq(bpf.AuditArchX86_64, "arch.ok", "")
	b.Ret(bpf.RetKillProcess)
	b.Label("arch.ok")
	b.LoadAbs(bpf.SeccompDataNr)
	for _, nr := range nrs {
		b.JEq(uint32(nr), "allow", "")
	}
	b.JEq(unix.SYS_PRCTL, "prctl", "")
	if o.HostUDS {
		b.JEq(unix.SYS_SOCKET, "socket", "")
	}
	b.Ret(bpf.RetKillProcess)
	b.Label("allow")
	b.Ret(bpf.RetAllow)
	// prctl: both halves of the first two arguments are compared.
	b.Label("prctl")
	b.ArgEq(0, unix.PR_SET_VMA, "prctl.kill")
	b.ArgEq(1, unix.PR_SET_VMA_ANON_NAME, "prctl.kill")
	b.Ret(bpf.RetAllow)
	b.Label("prctl.kill")
	b.Ret(bpf.RetKillProcess)
	if o.HostUDS {
		// socket: both halves of the domain argument must be AF_UNIX.
		b.Label("socket")
		b.LoadAbs(bpf.ArgLow(0))
		b.JEq(unix.AF_UNIX, "", "socket.kill")
		b.LoadAbs(bpf.ArgHigh(0))
		b.JEq(0, "socket.allow", "")
		b.Label("socket.kill")
		b.Ret(bpf.RetKillProcess)
		b.Label("socket.allow")
		b.Ret(bpf.RetAllow)
	}
	return b.AssembleSock()
}

// InstallFilter sets no_new_privs and installs the allow-list on every
// thread of the process: SECCOMP_FILTER_FLAG_TSYNC gives the filter (and
// no_new_privs) to the threads other than the calling one.
func InstallFilter() error { return InstallFilterWith(FilterOptions{}) }

// InstallFilterWith is InstallFilter with the allow-list widened by o.
func InstallFilterWith(o FilterOptions) error {
	// Let the runtime make its lazy first-use calls now: the netpoller
	// and timers (epoll_create1 and eventfd2 stay allowed as a fallback).
	// No GC cycle is forced, as in runsc/fence: a collection makes no call
	// outside the list (TestFilterEnforced's child has its first one
	// under the filter), and a forced one cost milliseconds of start-up
	// on a loaded host (issue 6).
	time.Sleep(time.Microsecond)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	prog, err := filterProgram(o)
	if err != nil {
		return err
	}
	return bpf.InstallSeccompTSync(prog)
}
