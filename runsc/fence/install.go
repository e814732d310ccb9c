//go:build linux && amd64

package fence

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// InstallFilter installs the allow-list of Rules(opts) on every thread of
// the process (SECCOMP_FILTER_FLAG_TSYNC), with no_new_privs. Threads and
// processes the sandbox makes afterwards inherit it; the ptrace
// platform's stubs, forked before, keep their own filter only.
//
// The caller must have made, before, every one-time system call outside
// the list: opening files, binding sockets, the platform's start-up.
func InstallFilter(opts Options) error {
	prog, err := Program(Rules(opts), opts.denyAction())
	if err != nil {
		return err
	}
	// Let the runtime make its lazy first-use calls now: the netpoller
	// and timers. No GC cycle is forced: a collection makes no call
	// outside the list (TestFilterEnforced's child has its first one
	// under the filter), and a forced one cost 2 to 40 ms of the
	// sandbox's start-up on a loaded host (issue 6).
	time.Sleep(time.Microsecond)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	return bpf.InstallSeccompTSync(prog)
}
