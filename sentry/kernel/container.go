package kernel

// Containers of a pod. A sandbox may run several OCI containers (a
// Kubernetes pod: runsc/boot/container.go). They share the kernel,
// network and UTS names; each has its own root mount (its processes'
// FSContext), its own processes and, unless its spec names the sandbox's
// (a shared process namespace), its own PID namespace (pidns.go), of
// which its init is pid 1. The kernel's part is a
// label: every process carries the id of the container it belongs to,
// given to the process that enters the sandbox for it (InitConfig.
// Container) and inherited by everything it forks, so that the container's
// processes can be found, signalled and counted. The sandbox's own (first)
// container is "".

// Container returns the id of the container tg belongs to ("" for the
// sandbox's first container). It never changes.
func (tg *ThreadGroup) Container() string { return tg.container }

// ContainerThreadGroups returns the live processes (zombies left out) of
// container id, ordered by pid.
func (k *Kernel) ContainerThreadGroups(id string) []*ThreadGroup {
	all := k.ThreadGroups()
	out := all[:0]
	k.mu.Lock()
	for _, tg := range all {
		if tg.container == id && !tg.zombie && len(tg.tasks) > 0 {
			out = append(out, tg)
		}
	}
	k.mu.Unlock()
	return out
}
