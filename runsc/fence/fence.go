//go:build linux && amd64

// Package fence fences the sandbox process (`runsc boot`, where the
// sentry runs) from the host, as DESIGN.md §1 asks: an empty root, no
// capabilities, no_new_privs, and a seccomp allow-list of the host
// syscalls the sentry and the Go runtime make (rules.go; README.md says
// why each is there and how to add one).
//
// It lives under runsc/ because it is process start-up, chosen by the
// command that starts the sandbox (like namespaces and cgroups), not
// kernel logic: nothing in sentry/ imports it, and the list depends on
// run-time settings (platform, --network) that runsc chooses.
//
// The order is fixed by what each step takes away (runsc/boot follows
// it): read everything that needs a host path first (debug log, control
// socket, /proc/cpuinfo, the names of the donated stdio), then Apply
// (needs CAP_SYS_ADMIN for the mounts), then create the platform (its
// stubs are forked from the fenced process and inherit the empty root
// and the empty capability sets, but not the sentry's filter), then
// InstallFilter before the first application instruction.
package fence

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Apply moves the calling process into an empty, read-only root of its
// own and drops every capability. The process must be alone in a mount
// namespace it created (runsc boot is started with CLONE_NEWNS): the old
// root is detached from this namespace only.
//
// After Apply, no host path resolves: files are reached only through
// descriptors opened before (or received over a socket).
func Apply() error {
	if err := pivotToEmptyRoot(); err != nil {
		return fmt.Errorf("fencing the sandbox: %w", err)
	}
	if err := dropCapabilities(); err != nil {
		return fmt.Errorf("fencing the sandbox: dropping capabilities: %w", err)
	}
	return nil
}

// pivotToEmptyRoot mounts an empty tmpfs, makes it the root of this mount
// namespace with pivot_root(2) and detaches the old root. pivot_root moves
// the root and working directory of every thread of the process (they
// share them, CLONE_FS), so no Go thread keeps the host's.
func pivotToEmptyRoot() error {
	// Nothing done here may reach the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	// Any existing directory serves as the mount point: the mount lives
	// in this namespace only.
	dir := ""
	for _, d := range []string{"/tmp", "/run", "/mnt"} {
		if st, err := os.Lstat(d); err == nil && st.IsDir() {
			dir = d
			break
		}
	}
	if dir == "" {
		return fmt.Errorf("no directory to mount the empty root on")
	}
	if err := unix.Mount("rampart-root", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,nr_inodes=2,mode=0555"); err != nil {
		return fmt.Errorf("mounting the empty root: %w", err)
	}
	if err := unix.Chdir(dir); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one at
	// "/"; detaching "." then leaves the empty tmpfs alone.
	switch err := unix.PivotRoot(".", "."); err {
	case nil:
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detaching the host's root: %w", err)
		}
	case unix.EINVAL:
		// The host's root is an initramfs, which pivot_root cannot move:
		// move the empty root over it and chroot there instead (the old
		// root stays mounted, under the new one).
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving the empty root over /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	default:
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	mountProc()
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("making the empty root read-only: %w", err)
	}
	return nil
}

// mountProc mounts a read-only procfs on /proc of the empty root, for
// host tools that read the sandbox's processes from its mount namespace:
// podman top (its psgo library enters the mount namespace of the
// container's pid, the sandbox process, and reads /proc there: the pid
// list, each process' stat, status, cmdline and attr/current, and
// /proc/stat's btime), nsenter -m ps. It is best effort: where procfs
// cannot be mounted (a user namespace whose host /proc is partly
// covered), the sandbox runs without it and only those tools fail.
//
// It is safe, that is it gives neither the sentry nor the application a
// way to the host they lacked:
//   - The procfs is that of the PID namespace of the mounting process,
//     the sandbox's own (runsc boot and runsc do start it with
//     CLONE_NEWPID as its init): it shows the sandbox process and its
//     stubs, no host process and no other container's.
//   - Nothing in the sandbox can open a path in it. The sentry's seccomp
//     filter (rules.go) allows no syscall that takes a path (no open,
//     openat, stat, readlink, execve, unix-socket connect by name: its
//     files come as descriptors, DESIGN.md invariant 4), and the stubs'
//     filter kills anything but their own few calls (invariant 3). The
//     magic links in it (/proc/PID/root, cwd, fd/N, exe) lead to the
//     same empty root or to descriptors the sandbox already holds.
//   - It is read-only (and nosuid, nodev, noexec): even a process that
//     could open a path would get EROFS on /proc/sys, /proc/sysrq-trigger
//     and /proc/PID/mem for writing. It is mounted before the root is
//     made read-only and is dropped with the namespace.
//   - A host process that enters this mount namespace (setns needs
//     CAP_SYS_ADMIN) already sees more in the host's /proc.
//
// hidepid would hide nothing: every process it shows belongs to the
// sandbox, and the readers that matter (podman, as root) bypass it.
// subset=pid would hide /proc/stat, whose btime psgo needs for the
// processes' start and CPU times (its default format fails without it).
func mountProc() {
	if err := unix.Mkdir("proc", 0o555); err != nil {
		return
	}
	if err := unix.Mount("proc", "proc", "proc", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		unix.Rmdir("proc")
	}
}
