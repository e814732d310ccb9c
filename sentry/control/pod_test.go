package control

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServeListenFile: a socket made by ListenFile and served by Serve
// (as a joined container's is) answers requests, receives descriptors,
// and stops answering after Close, leaving the socket file.
func TestServeListenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	f, err := ListenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	srv, err := Serve(f, func(r Request, files []*os.File) Response {
		got <- len(files)
		for _, f := range files {
			f.Close()
		}
		return Response{Pid: r.Pid + 1}
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	resp, err := CallWithFiles(path, Request{Cmd: CmdStats, Pid: 41}, []*os.File{r, w}, 5*time.Second)
	if err != nil || resp.Pid != 42 {
		t.Fatalf("call: %+v, %v", resp, err)
	}
	if n := <-got; n != 2 {
		t.Errorf("handler got %d descriptors, want 2", n)
	}
	srv.Close()
	if _, err := Call(path, Request{Cmd: CmdStats}, time.Second); err == nil {
		t.Errorf("call after Close succeeded")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("socket file: %v", err)
	}
}
