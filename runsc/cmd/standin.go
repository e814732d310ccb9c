package cmd

import (
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// Host stand-ins. The processes of a sandbox are the sentry's and have no
// host pid; clients (conmon, containerd's runc shim) still want one per
// process they manage: they signal it with kill(2) (the shim kills an
// exec'd process that way, `ctr task kill --exec-id` included; only a
// container's init is signalled with `runsc kill`) and reap it, as its
// subreaper, to learn the process' exit. A stand-in is a runsc process
// whose pid is given out for such a process:
//
//   - the detached child of `exec --detach --pid-file` (and the
//     foreground `exec` itself) for an exec'd process (exec.go);
//   - `exec --stand-in`, started by `create`, for the init of a container
//     that joined another's sandbox (pod.go): its pid is that container's
//     state pid and goes to --pid-file.
//
// A stand-in forwards every catchable signal it receives to its process
// through the control socket (forwardSignals), and ends as its process
// ended (exitAs): with its exit code, or killed by the same signal (runc's
// exec'd process is the real one, and its reaper sees WIFSIGNALED; conmon
// and the shim then report 128+N). SIGKILL and SIGSTOP cannot be
// forwarded: the stand-in's wait request is sent with control.Request.Hold,
// and the sandbox kills the process (SIGKILL) when the stand-in's end of
// that connection closes before the answer, i.e. when the stand-in dies.
// A SIGSTOP stops the stand-in alone. When the sandbox itself goes away
// (its connection breaks), the stand-in dies of SIGKILL, as the processes
// of a PID namespace do when its init dies.

// forwardedSignals are the signals a stand-in forwards: every catchable
// one but SIGCHLD (its own children's business), SIGPIPE (the stand-in's
// own writes to a closed socket raise it), SIGURG (the Go runtime's
// preemption signal), 32 and 33 (the C library's), and the synchronous
// SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS, which the Go
// runtime keeps for its own faults.
func forwardedSignals() []os.Signal {
	sigs := []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGABRT, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGPROF, unix.SIGWINCH, unix.SIGIO, unix.SIGPWR}
	for s := 34; s <= 64; s++ {
		sigs = append(sigs, unix.Signal(s))
	}
	return sigs
}

// catchSignals starts queueing the signals a stand-in forwards, from now
// on: the process does not die of, or stop on, any of them. Call it
// before the process exists, so that a signal sent in between is
// forwarded once it does (forward).
func catchSignals() chan os.Signal {
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, forwardedSignals()...)
	return ch
}

// forward hands each signal of ch (from catchSignals), in order, to send,
// from a goroutine of its own, until the process exits.
func forward(ch chan os.Signal, send func(unix.Signal)) {
	go func() {
		for s := range ch {
			send(s.(unix.Signal))
		}
	}()
}

// terminates reports whether sig's default action ends a process (it
// may have killed the process a stand-in stands for).
func terminates(sig unix.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH,
		unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return sig >= 1 && sig <= 64
}

// exitAs ends the stand-in as its process ended: killed by sig if a
// signal killed it, else with exit code code. The re-raised signal gets
// its default action (the Go runtime's handler, which would dump
// goroutines for SIGQUIT or ignore SIGUSR1, is replaced), and the
// stand-in makes itself undumpable first, so that SIGQUIT or SIGABRT
// leaves no core of it behind.
func exitAs(code int, sig unix.Signal) {
	if sig != 0 && terminates(sig) {
		signal.Reset()
		unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
		if sig != unix.SIGKILL {
			if err := setDefaultAction(sig); err != nil {
				os.Exit(128 + int(sig))
			}
		}
		unix.Kill(os.Getpid(), sig)
		// Delivery is asynchronous to this thread.
		time.Sleep(time.Second)
		code = 128 + int(sig)
	}
	os.Exit(code)
}
