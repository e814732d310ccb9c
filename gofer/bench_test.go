package gofer

import (
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkRoundTrip measures one request and its reply (a walk to a
// missing name) between a client and an in-process server.
func BenchmarkRoundTrip(b *testing.B) {
	dir := b.TempDir()
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	root, _ := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	s, _ := NewServer(root, fds[0], true)
	go s.Serve()
	c, err := NewClient(fds[1])
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rfid, _, _ := c.Attach()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Walk1(rfid, "missing")
	}
}
