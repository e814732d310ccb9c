package boot

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/proc"
)

// A sandbox whose config.json asks for a user namespace runs in one: the
// starter (runsc create) clones the sandbox process into a new user
// namespace with the config's maps written on the host side, as runc
// would, and gives it its capabilities in that namespace as ambient ones
// while it still has the host's root id (so that it can read the bundle
// and make its control socket in the root-owned state directory). Before
// the fence, becomeNamespaceRoot makes it the namespace's root: from then
// on its host ids are the ones the maps give container root, and it has
// no capability outside its namespace. The application sees the
// container's ids, and /proc/[pid]/uid_map and gid_map show the maps.

// UserNamespace is the user namespace the sandbox process runs in.
type UserNamespace struct {
	UIDMap, GIDMap []proc.IDMapEntry
}

// becomeNamespaceRoot sets every thread's ids to the user namespace's
// root (0) with no supplementary groups, and makes the process dumpable
// again (a change of ids clears it, and the platform's stubs, forked
// from it, must stay traceable by it).
func becomeNamespaceRoot() error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("user namespace: setgroups: %w", err)
	}
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("user namespace: setresgid: %w", err)
	}
	if err := syscall.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("user namespace: setresuid: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("user namespace: PR_SET_DUMPABLE: %w", err)
	}
	return nil
}
