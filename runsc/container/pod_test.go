package container

import "testing"

func TestPodSandbox(t *testing.T) {
	for _, c := range []struct {
		name    string
		id      string
		ann     map[string]string
		want    string
		wantErr bool
	}{
		{"no annotations", "a", nil, "", false},
		{"unrelated annotations", "a", map[string]string{"x": "y"}, "", false},
		{"containerd sandbox", "sb", map[string]string{ContainerdContainerType: "sandbox", ContainerdSandboxID: "sb"}, "", false},
		{"containerd container", "a", map[string]string{ContainerdContainerType: "container", ContainerdSandboxID: "sb"}, "sb", false},
		{"cri-o sandbox", "sb", map[string]string{CRIOContainerType: "sandbox", CRIOSandboxID: "sb"}, "", false},
		{"cri-o container", "a", map[string]string{CRIOContainerType: "container", CRIOSandboxID: "sb"}, "sb", false},
		{"both spellings agreeing", "a", map[string]string{
			ContainerdContainerType: "container", ContainerdSandboxID: "sb",
			CRIOContainerType: "container", CRIOSandboxID: "sb"}, "sb", false},
		{"both spellings disagreeing on the sandbox", "a", map[string]string{
			ContainerdContainerType: "container", ContainerdSandboxID: "sb",
			CRIOContainerType: "container", CRIOSandboxID: "other"}, "", true},
		{"both spellings disagreeing on the type", "a", map[string]string{
			ContainerdContainerType: "container", ContainerdSandboxID: "sb",
			CRIOContainerType: "sandbox", CRIOSandboxID: "sb"}, "", true},
		{"container naming itself", "sb", map[string]string{ContainerdContainerType: "container", ContainerdSandboxID: "sb"}, "", false},
		{"container without a sandbox id", "a", map[string]string{ContainerdContainerType: "container"}, "", true},
		{"sandbox id without a type", "a", map[string]string{CRIOSandboxID: "sb"}, "", true},
		{"unknown type", "a", map[string]string{ContainerdContainerType: "pod", ContainerdSandboxID: "sb"}, "", true},
		{"invalid sandbox id", "a", map[string]string{CRIOContainerType: "container", CRIOSandboxID: "../x"}, "", true},
		{"sandbox type with another id", "a", map[string]string{ContainerdContainerType: "sandbox", ContainerdSandboxID: "sb"}, "", false},
	} {
		got, err := PodSandbox(c.id, c.ann)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: PodSandbox(%q) = %q, %v; want %q, error %v", c.name, c.id, got, err, c.want, c.wantErr)
		}
	}
}
