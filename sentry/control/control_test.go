package control

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCallAndVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	release := make(chan struct{})
	s, err := Listen(path, func(r Request, files []*os.File) Response {
		switch r.Cmd {
		case CmdSignal:
			if r.Signal == 0 {
				return Response{Error: "bad signal"}
			}
			return Response{}
		case CmdExec:
			defer func() {
				for _, f := range files {
					f.Close()
				}
			}()
			if len(files) != 1 {
				return Response{Error: "want one file"}
			}
			files[0].Write([]byte("hi"))
			return Response{Pid: 7}
		case CmdWait:
			<-release
			return Response{ExitStatus: 42}
		}
		return Response{Error: "unknown"}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Call(path, Request{Cmd: CmdSignal, Signal: 15}, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(path, Request{Cmd: CmdSignal}, time.Second); err == nil || err.Error() != "bad signal" {
		t.Fatalf("handler error: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := CallWithFiles(path, Request{Cmd: CmdExec}, []*os.File{w}, time.Second)
	w.Close()
	if err != nil || resp.Pid != 7 {
		t.Fatalf("exec: %+v %v", resp, err)
	}
	got := make([]byte, 2)
	if _, err := r.Read(got); err != nil || string(got) != "hi" {
		t.Fatalf("read through the passed FD: %q %v", got, err)
	}
	done := make(chan Response)
	go func() {
		r, _ := Call(path, Request{Cmd: CmdWait}, 0)
		done <- r
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	// Close lets the waiter have its answer.
	s.Close()
	if r := <-done; r.ExitStatus != 42 {
		t.Fatalf("wait answered %+v", r)
	}
	if _, err := Call(path, Request{Cmd: CmdWait}, time.Second); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("after Close: %v, want ErrUnreachable", err)
	}
}

// TestLongPath checks a socket path longer than sockaddr_un has room for.
func TestLongPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 120 {
		dir = filepath.Join(dir, "0123456789abcdef0123456789abcdef")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "control.sock")
	s, err := Listen(path, func(r Request, files []*os.File) Response { return Response{Pid: 3} })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := Call(path, Request{Cmd: CmdWait}, time.Second)
	if err != nil || r.Pid != 3 {
		t.Fatalf("call through a long path: %+v %v", r, err)
	}
}
