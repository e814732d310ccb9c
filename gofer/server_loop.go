package gofer

import (
	"sync"

	"golang.org/x/sys/unix"
)

// receive is the server's receiving goroutine: it reads requests until one
// needs an answer, starts the next receiving goroutine (handing it buf,
// which the decoded request no longer uses) and serves that request
// itself. So a request is served by the goroutine that received it, with
// no hand-off to another goroutine before the reply: a goroutine made
// runnable while the receiver blocks in recvmsg would wait for the Go
// scheduler to take the processor back from the blocked thread, which on
// a loaded host is most of a round trip. Requests still run concurrently
// (each on the goroutine that received it). The first receive error, end
// of connection or malformed message is sent on end.
func (s *Server) receive(wg *sync.WaitGroup, end chan<- error, buf []byte) {
	defer wg.Done()
	for {
		n, _, flags, _, err := unix.Recvmsg(s.sock, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			end <- err
			return
		}
		if n == 0 {
			end <- nil
			return
		}
		if flags&unix.MSG_TRUNC != 0 {
			end <- ErrMalformed
			return
		}
		req := new(Request)
		if err := DecodeRequest(buf[:n], req); err != nil {
			end <- err
			return
		}
		if req.Type == TClunk {
			s.clunk(req.FID)
			continue
		}
		wg.Add(1)
		go s.receive(wg, end, buf)
		s.handle(req)
		return
	}
}
