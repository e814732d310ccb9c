// Package linux is the sentry's implementation of the Linux amd64 syscall
// interface: the table that maps syscall numbers to handlers, and the
// handlers themselves, one file per area (sys_file.go, sys_mmap.go, …).
//
// Handlers receive raw arguments, copy memory in and out through the task,
// and return Linux errnos as unix.Errno.
package linux

import "github.com/rampart-sandbox/rampart/sentry/kernel"

// Table returns a fresh amd64 syscall table with every implemented syscall
// registered and every number named.
func Table() *kernel.SyscallTable {
	t := &kernel.SyscallTable{}
	for nr, name := range syscallNames {
		t.Entries[nr].Name = name
	}
	registerFile(t)
	registerThread(t)
	registerSignal(t)
	registerTime(t)
	registerIdentity(t)
	registerInfo(t)
	registerMM(t)
	registerPipe(t)
	registerLock(t)
	registerSeccomp(t)
	registerPoll(t)
	registerEpoll(t)
	registerEventfd(t)
	registerTimerfd(t)
	registerSignalfd(t)
	registerPidfd(t)
	registerFileops(t)
	registerPtrace(t)
	registerInotify(t)
	registerSocket(t)
	return t
}
