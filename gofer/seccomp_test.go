//go:build linux && amd64

package gofer

import (
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
	"golang.org/x/sys/unix"
)

// TestAllowedSyscalls pins the gofer's allow-list: adding a syscall must
// change this list too, in review.
func TestAllowedSyscalls(t *testing.T) {
	want := map[uintptr]string{
		unix.SYS_RECVMSG: "recvmsg", unix.SYS_SENDMSG: "sendmsg", unix.SYS_SHUTDOWN: "shutdown",
		unix.SYS_CLOSE: "close", unix.SYS_OPENAT: "openat", unix.SYS_OPENAT2: "openat2",
		unix.SYS_NEWFSTATAT: "newfstatat", unix.SYS_FSTAT: "fstat", unix.SYS_FSTATFS: "fstatfs",
		unix.SYS_READLINKAT: "readlinkat", unix.SYS_GETDENTS64: "getdents64", unix.SYS_LSEEK: "lseek",
		unix.SYS_FCNTL: "fcntl", unix.SYS_MKDIRAT: "mkdirat", unix.SYS_MKNODAT: "mknodat",
		unix.SYS_SYMLINKAT: "symlinkat", unix.SYS_LINKAT: "linkat", unix.SYS_UNLINKAT: "unlinkat",
		unix.SYS_RENAMEAT: "renameat", unix.SYS_RENAMEAT2: "renameat2", unix.SYS_FCHOWNAT: "fchownat", unix.SYS_FCHOWN: "fchown",
		unix.SYS_FCHMOD: "fchmod", unix.SYS_FTRUNCATE: "ftruncate", unix.SYS_UTIMENSAT: "utimensat",
		unix.SYS_FGETXATTR: "fgetxattr", unix.SYS_FLISTXATTR: "flistxattr",
		unix.SYS_FSETXATTR: "fsetxattr", unix.SYS_FREMOVEXATTR: "fremovexattr",
		unix.SYS_GETXATTRAT: "getxattrat", unix.SYS_LISTXATTRAT: "listxattrat",
		unix.SYS_SETXATTRAT: "setxattrat", unix.SYS_REMOVEXATTRAT: "removexattrat",
		unix.SYS_MMAP: "mmap", unix.SYS_MUNMAP: "munmap", unix.SYS_MADVISE: "madvise",
		unix.SYS_MPROTECT: "mprotect", unix.SYS_FUTEX: "futex", unix.SYS_CLONE: "clone",
		unix.SYS_GETTID: "gettid", unix.SYS_GETPID: "getpid", unix.SYS_TGKILL: "tgkill",
		unix.SYS_RT_SIGACTION: "rt_sigaction", unix.SYS_RT_SIGPROCMASK: "rt_sigprocmask",
		unix.SYS_RT_SIGRETURN: "rt_sigreturn", unix.SYS_SIGALTSTACK: "sigaltstack",
		unix.SYS_SCHED_YIELD: "sched_yield", unix.SYS_NANOSLEEP: "nanosleep",
		unix.SYS_CLOCK_GETTIME: "clock_gettime", unix.SYS_CLOCK_NANOSLEEP: "clock_nanosleep",
		unix.SYS_EXIT: "exit", unix.SYS_EXIT_GROUP: "exit_group", unix.SYS_WRITE: "write",
		unix.SYS_READ: "read", unix.SYS_EPOLL_PWAIT: "epoll_pwait", unix.SYS_EPOLL_CTL: "epoll_ctl",
		unix.SYS_GETRLIMIT: "getrlimit", unix.SYS_SCHED_GETAFFINITY: "sched_getaffinity",
		unix.SYS_RESTART_SYSCALL: "restart_syscall", unix.SYS_PREAD64: "pread64",
		unix.SYS_EPOLL_CREATE1: "epoll_create1", unix.SYS_EVENTFD2: "eventfd2",
	}
	pin(t, "allow-list", AllowedSyscalls, want)
	// --host-uds: the reviewed block of server_socket.go.
	pin(t, "host-uds block", HostUDSSyscalls, map[uintptr]string{
		unix.SYS_SOCKET: "socket", unix.SYS_CONNECT: "connect", unix.SYS_BIND: "bind",
		unix.SYS_FCHDIR: "fchdir", unix.SYS_FCHMODAT: "fchmodat",
	})
	for _, nr := range HostUDSSyscalls {
		if _, ok := want[nr]; ok {
			t.Errorf("syscall %d is in both lists", nr)
		}
	}
}

// pin fails t unless list holds exactly the syscalls of want.
func pin(t *testing.T, what string, list []uintptr, want map[uintptr]string) {
	t.Helper()
	var extra, missing []string
	seen := map[uintptr]bool{}
	for _, nr := range list {
		if seen[nr] {
			t.Errorf("syscall %d listed twice", nr)
		}
		seen[nr] = true
		if _, ok := want[nr]; !ok {
			extra = append(extra, "nr "+itoa(nr))
		}
	}
	for nr, name := range want {
		if !seen[nr] {
			missing = append(missing, name)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 {
		t.Errorf("the gofer's seccomp %s changed: added %s; removed %s (update this test if intended)",
			what, strings.Join(extra, ","), strings.Join(missing, ","))
	}
}

func itoa(v uintptr) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

// TestFilterEnforced runs the test binary again with the filter installed:
// the server's operations keep working, the runtime has its first GC
// cycle under the filter and may name its mappings (prctl PR_SET_VMA),
// and any other prctl or a socket(2) kills the process.
func TestFilterEnforced(t *testing.T) {
	if raceEnabled {
		t.Skip("the race runtime needs syscalls outside the allow-list; run without -race")
	}
	if mode := os.Getenv("GOFER_FILTER_CHILD"); mode != "" {
		opts := FilterOptions{HostUDS: strings.HasPrefix(mode, "uds-")}
		if err := InstallFilterWith(opts); err != nil {
			os.Stdout.WriteString("install: " + err.Error() + "\n")
			os.Exit(3)
		}
		// The first GC cycle of the process (which starts the background
		// mark workers) comes under the filter: InstallFilter forces none,
		// and GOGC=off let nothing run one before.
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.NumGC != 0 {
			os.Stdout.WriteString("a GC cycle ran before the filter\n")
			os.Exit(10)
		}
		// Cycles started by allocation (background marking, assists).
		if bpftest.GCUnderFilter() == 0 {
			os.Stdout.WriteString("no GC cycle under the filter\n")
			os.Exit(11)
		}
		// What the Go runtime does on kernels with CONFIG_ANON_VMA_NAME
		// (an EINVAL here otherwise, but never a kill).
		unix.Syscall6(unix.SYS_PRCTL, unix.PR_SET_VMA, unix.PR_SET_VMA_ANON_NAME, 0, 4096, 0, 0)
		fd, err := unix.Open("/", unix.O_PATH, 0)
		if err != nil {
			os.Exit(4)
		}
		if _, err := openBeneath(fd, "etc", unix.O_PATH|unix.O_NOFOLLOW); err != nil {
			os.Exit(5)
		}
		// The runtime keeps working: timers, forced GC, new threads.
		for i := 0; i < 3; i++ {
			runtime.GC()
			time.Sleep(time.Millisecond)
			done := make(chan bool)
			go func() { runtime.LockOSThread(); done <- true }()
			<-done
		}
		switch mode {
		case "prctl":
			unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
		case "socket", "uds-inet":
			unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		case "unix":
			unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		case "uds-unix":
			// What Tbind and Tconnect do, on a name in a test directory.
			dir := os.Getenv("GOFER_FILTER_DIR")
			// (Nothing listens: the sentry would.)
			l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				os.Exit(6)
			}
			if unix.Bind(l, &unix.SockaddrUnix{Name: dir + "/s"}) != nil {
				os.Exit(7)
			}
			c, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if unix.Connect(c, &unix.SockaddrUnix{Name: dir + "/s"}) != unix.ECONNREFUSED {
				os.Exit(8)
			}
			if unix.Fchdir(fd) != nil || unix.Fchmodat(unix.AT_FDCWD, dir+"/s", 0o600, 0) != nil {
				os.Exit(9)
			}
		}
		os.Exit(0)
	}
	for _, c := range []struct {
		mode   string
		killed bool
	}{{"ok", false}, {"prctl", true}, {"socket", true}, {"unix", true}, {"uds-unix", false}, {"uds-inet", true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFilterEnforced$")
		// GOGC=off until the filter is in place.
		cmd.Env = append(os.Environ(), "GOFER_FILTER_CHILD="+c.mode, "GOFER_FILTER_DIR="+t.TempDir(), "GOGC=off")
		out, err := cmd.CombinedOutput()
		ee, _ := err.(*exec.ExitError)
		switch {
		case c.killed && (ee == nil || !ee.Sys().(interface{ Signaled() bool }).Signaled()):
			t.Errorf("%s: not killed: %v %s", c.mode, err, out)
		case !c.killed && err != nil:
			t.Errorf("%s: %v %s", c.mode, err, out)
		}
	}
}
