package container

import "fmt"

// Pods. Kubernetes runs a pod as several OCI containers: first the pod's
// sandbox container (a "pause" process holding the pod's namespaces), then
// each application container, which the CRI runtime marks with
// annotations naming the sandbox container. runsc puts such a container
// into that container's sandbox process (one sentry, one kernel) instead
// of starting a sandbox of its own: it gets its own gofer, root and mounts
// and its own processes, and shares the sandbox's network, UTS names and
// PID namespace.
//
// The annotations, as containerd's CRI plugin and CRI-O set them:
const (
	// ContainerdContainerType is "sandbox" or "container".
	ContainerdContainerType = "io.kubernetes.cri.container-type"
	// ContainerdSandboxID is the sandbox container's id.
	ContainerdSandboxID = "io.kubernetes.cri.sandbox-id"
	// CRIOContainerType is "sandbox" or "container".
	CRIOContainerType = "io.kubernetes.cri-o.ContainerType"
	// CRIOSandboxID is the sandbox container's id.
	CRIOSandboxID = "io.kubernetes.cri-o.SandboxID"
)

// Values of the container-type annotations.
const (
	TypeSandbox   = "sandbox"
	TypeContainer = "container"
)

// PodMember is what the state of a container that joined a sandbox
// records.
type PodMember struct {
	// SandboxID is the id of the sandbox container whose sandbox process
	// runs this container.
	SandboxID string `json:"sandboxId"`
	// GoferPid and GoferStart identify the container's gofer process
	// (its start time, so that a reused pid is never killed).
	GoferPid   int    `json:"goferPid"`
	GoferStart uint64 `json:"goferStartTime"`
	// StandIn says that the state's Pid and PidStart are the container's
	// host stand-in (runsc/cmd/pod.go), a runsc process that lives as
	// long as the container's init, rather than the sandbox process.
	StandIn bool `json:"standIn,omitempty"`
}

// PodSandbox reads a container's annotations: it returns the id of the
// sandbox container that container id must join, or "" when it starts a
// sandbox of its own (no annotations, type "sandbox", or a sandbox id that
// is its own). A type "container" without a sandbox id, an unknown type,
// or containerd's and CRI-O's spellings disagreeing is an error.
func PodSandbox(id string, annotations map[string]string) (string, error) {
	var typ, sb string
	for _, k := range [][2]string{{ContainerdContainerType, ContainerdSandboxID}, {CRIOContainerType, CRIOSandboxID}} {
		t, hasT := annotations[k[0]]
		s := annotations[k[1]]
		if !hasT && s == "" {
			continue
		}
		switch t {
		case TypeSandbox, TypeContainer:
		default:
			return "", fmt.Errorf("annotation %s: unknown container type %q", k[0], t)
		}
		if typ != "" && (typ != t || sb != s) {
			return "", fmt.Errorf("annotations %s and %s disagree", ContainerdContainerType, CRIOContainerType)
		}
		typ, sb = t, s
	}
	if typ != TypeContainer || sb == id {
		return "", nil
	}
	if sb == "" {
		return "", fmt.Errorf("a container of type %q needs a sandbox id annotation", TypeContainer)
	}
	if err := ValidID(sb); err != nil {
		return "", fmt.Errorf("sandbox id annotation: %w", err)
	}
	return sb, nil
}
