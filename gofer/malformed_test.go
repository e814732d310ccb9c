package gofer

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawServer starts a server on dir and returns the raw client end of its
// socket and a channel that receives Serve's result.
func rawServer(t *testing.T, dir string) (int, <-chan error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(root, fds[0], false)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() { unix.Close(fds[1]) })
	return fds[1], done
}

// hungUp checks that the server ended its Serve loop and closed its end:
// the client end reads end-of-file.
func hungUp(t *testing.T, what string, sock int, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("%s: Serve returned no error", what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the server kept the connection", what)
	}
	buf := make([]byte, 64)
	n, _, err := unix.Recvfrom(sock, buf, 0)
	if n != 0 || (err != nil && err != unix.ECONNRESET) {
		t.Errorf("%s: connection still delivers: %d %v", what, n, err)
	}
}

// TestMalformedClosesConnection: whatever the sentry side sends that does
// not decode, or is larger than MaxMessage, makes the gofer close the
// connection rather than guess.
func TestMalformedClosesConnection(t *testing.T) {
	dir := t.TempDir()
	valid := func(r *Request) []byte {
		var e Encoder
		if err := EncodeRequest(&e, r); err != nil {
			t.Fatal(err)
		}
		return e.B
	}
	patch := func(b []byte, f func([]byte)) []byte { f(b); return b }
	cases := map[string][]byte{
		"oversized": make([]byte, 2*MaxMessage),
		"short":     {1, 2, 3},
		"size field lies": patch(valid(&Request{Type: TStat, FID: 0}), func(b []byte) {
			b[0]++
		}),
		"nonzero pad": patch(valid(&Request{Type: TStat, FID: 0}), func(b []byte) {
			b[10] = 1
		}),
		"unknown type": patch(valid(&Request{Type: TStat, FID: 0}), func(b []byte) {
			b[8], b[9] = 0x55, 0x55
		}),
		"trailing bytes": func() []byte {
			b := append(valid(&Request{Type: TStat, FID: 0}), 0)
			b[0]++
			return b
		}(),
		"string past end": patch(valid(&Request{Type: TWalk, FID: 0, Names: []string{"abc"}}), func(b []byte) {
			b[HeaderSize+10] = 200 // length of the first name
		}),
		"slash in name": valid(&Request{Type: TMkdir, FID: 0, Name: "a/b"}),
		"dotdot":        valid(&Request{Type: TWalk, FID: 0, Names: []string{".."}}),
		"too many names": func() []byte {
			names := make([]string, MaxWalk+1)
			for i := range names {
				names[i] = "x"
			}
			var e Encoder
			e.Start(1, TWalk)
			e.U64(0)
			e.U16(uint16(len(names)))
			for _, n := range names {
				e.Str(n)
			}
			e.Finish()
			return e.B
		}(),
	}
	for what, pkt := range cases {
		sock, done := rawServer(t, dir)
		// A good request first: the connection works until the bad one.
		if err := unix.Sendmsg(sock, valid(&Request{Tag: 9, Type: TVersion, Flags: Version, Count: MaxMessage}), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, MaxMessage)
		if n, _, err := unix.Recvfrom(sock, buf, 0); err != nil || n < HeaderSize {
			t.Fatalf("%s: version: %d %v", what, n, err)
		}
		if err := unix.Sendmsg(sock, pkt, nil, nil, 0); err != nil {
			t.Fatalf("%s: send: %v", what, err)
		}
		hungUp(t, what, sock, done)
	}
}
