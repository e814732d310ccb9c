package control

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// holdHandler answers CmdWait once released, or with Pid 1 when the
// caller hangs up first; any other request is answered at once and
// reports whether its Hangup was set.
func holdHandler(release <-chan struct{}) Handler {
	return func(r Request, files []*os.File) Response {
		if r.Cmd != CmdWait {
			if r.Hangup != nil {
				return Response{Error: "Hangup set without Hold"}
			}
			return Response{}
		}
		if r.Hangup == nil {
			return Response{Error: "no Hangup with Hold"}
		}
		select {
		case <-r.Hangup:
			return Response{Pid: 1}
		case <-release:
			return Response{ExitStatus: 7}
		}
	}
}

// checkHold: a held request is answered normally while its caller waits,
// and a caller that closes its connection first is seen to hang up.
func checkHold(t *testing.T, path string, release chan struct{}, hungUp <-chan Response) {
	t.Helper()
	if _, err := Call(path, Request{Cmd: CmdSignal, Signal: 1}, 5*time.Second); err != nil {
		t.Fatalf("request without Hold: %v", err)
	}
	// The caller goes away before the answer.
	p, err := Send(path, Request{Cmd: CmdWait, Hold: true}, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	select {
	case r := <-hungUp:
		if r.Pid != 1 {
			t.Fatalf("after the caller's close: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not see the caller hang up")
	}
	// The caller stays for its answer.
	p, err = Send(path, Request{Cmd: CmdWait, Hold: true}, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	time.Sleep(50 * time.Millisecond)
	close(release)
	resp, err := p.Wait()
	if err != nil || resp.ExitStatus != 7 {
		t.Fatalf("held wait: %+v %v", resp, err)
	}
}

// record wraps h and sends each CmdWait answer to out.
func record(h Handler, out chan<- Response) Handler {
	return func(r Request, files []*os.File) Response {
		resp := h(r, files)
		if r.Cmd == CmdWait {
			out <- resp
		}
		return resp
	}
}

func TestHoldListen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	release := make(chan struct{})
	answers := make(chan Response, 2)
	s, err := Listen(path, record(holdHandler(release), answers))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkHold(t, path, release, answers)
}

func TestHoldServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	f, err := ListenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	answers := make(chan Response, 2)
	s, err := Serve(f, record(holdHandler(release), answers))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkHold(t, path, release, answers)
}
