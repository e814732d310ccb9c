package cmd

import "testing"

func TestVolumeMounts(t *testing.T) {
	ms, err := volumeMounts([]string{"/var/tmp/x:/tmp", "/dev/shm/y/:/dev/shm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Source != "/var/tmp/x" || ms[0].Destination != "/tmp" || ms[1].Source != "/dev/shm/y" {
		t.Fatalf("volumeMounts = %+v", ms)
	}
	for _, bad := range []string{"", "/x", ":/tmp", "/x:tmp", "/x:"} {
		if _, err := volumeMounts([]string{bad}); err == nil {
			t.Errorf("volumeMounts(%q) accepted", bad)
		}
	}
}
