package boot

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// config.json's linux.sysctl sets the sandbox's own view: the sysctls of
// its /proc/sys (fs/proc/sysctl.go) and its UTS names. Nothing is written
// to the host's /proc/sys. A key the sandbox does not have fails create,
// with runc's message for a key Linux does not namespace (runc refuses
// those too), so that a container never runs believing a setting it does
// not have.

// namespacedSysctl reports whether Linux keeps key (a path below
// /proc/sys) per namespace: network, IPC (kernel.shm*, msg*, sem,
// fs.mqueue) and UTS (kernel.hostname, domainname), as runc's list.
func namespacedSysctl(p string) bool {
	switch p {
	case "kernel/hostname", "kernel/domainname", "kernel/sem", "kernel/msgmax", "kernel/msgmnb",
		"kernel/msgmni", "kernel/shmall", "kernel/shmmax", "kernel/shmmni", "kernel/shm_rmid_forced":
		return true
	}
	return strings.HasPrefix(p, "net/") || strings.HasPrefix(p, "fs/mqueue/")
}

// CheckSysctls checks linux.sysctl before anything is made: every key is
// one of the sandbox's sysctls and every value one it accepts.
func CheckSysctls(sysctls map[string]string) error {
	scratch := proc.NewSysctls()
	for _, key := range sortedKeys(sysctls) {
		if err := setSysctl(nil, scratch, key, sysctls[key]); err != nil {
			return err
		}
	}
	return nil
}

// applySysctls sets linux.sysctl in the sandbox, in key order.
func applySysctls(k *kernel.Kernel, s *proc.Sysctls, sysctls map[string]string) error {
	for _, key := range sortedKeys(sysctls) {
		if err := setSysctl(k, s, key, sysctls[key]); err != nil {
			return err
		}
	}
	return nil
}

// setSysctl sets one sysctl in s, or k's UTS names (k nil: only check).
func setSysctl(k *kernel.Kernel, s *proc.Sysctls, key, value string) error {
	p := proc.SysctlPath(key)
	if !namespacedSysctl(p) {
		return fmt.Errorf("linux.sysctl: sysctl %q is not in a separate kernel namespace", key)
	}
	switch p {
	case "kernel/hostname", "kernel/domainname":
		v := strings.TrimSuffix(value, "\n")
		if len(v) > 64 {
			return fmt.Errorf("linux.sysctl: %s: %q is longer than 64 bytes", key, v)
		}
		if k != nil && p == "kernel/hostname" {
			k.SetHostname(v)
		} else if k != nil {
			k.SetDomainname(v)
		}
		return nil
	}
	if _, ok := s.Value(p); !ok {
		return fmt.Errorf("linux.sysctl: sysctl %q is not supported by the sandbox", key)
	}
	if err := s.Set(p, value); err != nil {
		return fmt.Errorf("linux.sysctl: %s: invalid value %q", key, value)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
