package boot

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseMounts(t *testing.T) {
	spec := &specs.Spec{
		Mounts: []specs.Mount{
			{Destination: "/proc/", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/a", Type: "bind", Source: "/host/a/", Options: []string{"ro", "nodev"}},
			{Destination: "/b", Type: "none", Source: "rel", Options: []string{"rbind", "noexec", "rprivate"}},
			{Destination: "/c", Source: "/host/c", Options: []string{"bind", "ro", "rw", "suid", "mode=755"}},
			{Destination: "/q", Type: "mqueue", Source: "mqueue"},
		},
		Linux: &specs.Linux{MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"}, RootfsPropagation: "runbindable"},
	}
	om, err := ParseMounts(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(om.Mounts) != 6 || om.MaskedPaths[0] != "/proc/kcore" || om.ReadonlyPaths[0] != "/proc/sys" || !om.RootUnbindable {
		t.Fatalf("parsed %+v", om)
	}
	m := om.Mounts
	if m[0].Destination != "/proc" || m[0].Bind || m[0].GoferFD != -1 {
		t.Errorf("proc: %+v", m[0])
	}
	if !m[1].Flags.NoSuid || m[1].Data != "mode=755,size=65536k" {
		t.Errorf("tmpfs: %+v", m[1])
	}
	if !m[2].Bind || m[2].Recursive || !m[2].Flags.ReadOnly || !m[2].Flags.NoDev || m[2].GoferFD != FirstBindFD || m[2].Source != "/host/a" {
		t.Errorf("bind: %+v", m[2])
	}
	if !m[3].Bind || !m[3].Recursive || !m[3].Flags.NoExec || m[3].Type != "bind" || m[3].GoferFD != FirstBindFD+1 {
		t.Errorf("rbind: %+v", m[3])
	}
	if m[4].Flags.ReadOnly || m[4].Flags.NoSuid || m[4].GoferFD != FirstBindFD+2 || m[4].Data != "" {
		t.Errorf("later options win: %+v", m[4])
	}
	if BindSource(spec.Mounts[3], "/bundle") != "/bundle/rel" || BindSource(spec.Mounts[2], "/bundle") != "/host/a" {
		t.Errorf("bind sources: %s %s", BindSource(spec.Mounts[3], "/bundle"), BindSource(spec.Mounts[2], "/bundle"))
	}
}

func TestParseMountsErrors(t *testing.T) {
	for _, tc := range []struct {
		m    specs.Mount
		want string
	}{
		{specs.Mount{Destination: "rel", Type: "tmpfs"}, "absolute"},
		{specs.Mount{Destination: "/x", Type: "ext4", Source: "/dev/sda"}, "unsupported filesystem type"},
		{specs.Mount{Destination: "/x", Type: "", Source: "x"}, "unsupported filesystem type"},
		{specs.Mount{Destination: "/x", Type: "bind", Options: []string{"ro"}}, "needs a source"},
		{specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"size=lots"}}, "bad tmpfs options"},
		{specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"bogus"}}, "bad tmpfs options"},
	} {
		_, err := ParseMounts(&specs.Spec{Mounts: []specs.Mount{tc.m}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.m, err, tc.want)
		}
	}
	if _, err := ParseMounts(&specs.Spec{Linux: &specs.Linux{RootfsPropagation: "sideways"}}); err == nil {
		t.Errorf("unknown rootfsPropagation accepted")
	}
}
