package gofer

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Serving. One receiver reads the socket and serves each request itself,
// on the goroutine that received it: no hand-off to another goroutine and
// no goroutine started per request. Either costs a lone client most of a
// round trip on a loaded host (a goroutine made runnable while its peer
// blocks in recvmsg waits for the Go scheduler to take the processor back
// from the blocked thread; starting one wakes another thread to run it).
//
// Requests still run concurrently when they come together: a receiver
// that takes a request while others already wait behind it (a peek, which
// does not block) starts a helper first, which serves what is queued
// (without blocking on the socket) and ends when nothing is; at most
// maxHelpers run at once. A request that arrives while the receiver
// serves a slow one waits for it, unless a helper is running: every
// request is short (the gofer never blocks on a FIFO, a socket or
// another request), so it waits for host file operations only. A
// request still being served after slowRequest starts a helper that waits
// on the socket in its stead (watch): a host operation that is short
// almost always may still stall (a file on NFS or FUSE, a disk under
// load), and requests for other files must not wait behind it. A request
// that may take long (a listing, a batch of lookups) gets the shorter
// longRequest, and a reply that must wait for room in the client's queue
// starts such a helper at once.

// slowRequest is how long a request keeps its goroutine before another
// starts reading the socket. A round trip costs tens of µs here; a host
// create on a busy disk about 500.
const slowRequest = 2 * time.Millisecond

// longRequest is slowRequest for a request that may take long (long). A
// helper started at once for each of them cost every listing a goroutine
// and a thread's wake-up, and ls -lR lists thousands of directories of a
// few entries, each served in less than this; a listing or batch that
// takes longer lets other requests wait at most this long.
const longRequest = 500 * time.Microsecond

// maxHelpers bounds the helpers serving queued requests concurrently.
const maxHelpers = 8

// receive is the receiving goroutine. The first receive error, end of
// connection or malformed message is sent on end.
func (s *Server) receive(wg *sync.WaitGroup, end chan<- error) {
	defer wg.Done()
	buf := make([]byte, MaxMessage)
	watch := s.newWatch()
	defer watch.Stop()
	for {
		req, err := s.next(buf, 0)
		if err != nil || req == nil {
			sendEnd(end, err)
			return
		}
		s.serve(wg, end, req, watch)
	}
}

// newWatch returns a serving goroutine's slow-request watch, stopped: a
// timer that, once reset, starts a helper waiting on the socket unless it
// is stopped within slowRequest.
func (s *Server) newWatch() *time.Timer {
	t := time.AfterFunc(time.Hour, s.standbyIfOpen)
	t.Stop()
	return t
}

// standbyIfOpen is startStandby for a watch, unless a goroutine already
// waits on the socket (a helper started for a long request). A watch may
// fire while the server shuts down: once the socket is closed it starts
// nothing, so that shutdown's wait for the serving goroutines sees no new
// one after it began.
func (s *Server) standbyIfOpen() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.closed && s.waiting.Load() == 0 {
		s.startStandby()
	}
}

// serve serves req, first starting a helper if other requests may need
// one meanwhile; watch (newWatch) runs while it does.
func (s *Server) serve(wg *sync.WaitGroup, end chan<- error, req *Request, watch *time.Timer) {
	s.spill(wg, end)
	if long(req) {
		watch.Reset(longRequest)
	} else {
		watch.Reset(slowRequest)
	}
	if h := testHookServe.Load(); h != nil {
		(*h)(req)
	}
	s.handle(req)
	watch.Stop()
}

// testHookServe, if set (by tests, before any server starts), is called
// before each request is served.
var testHookServe atomic.Pointer[func(*Request)]

// long reports whether r may keep its server busy for long (many host
// calls).
func long(r *Request) bool {
	switch r.Type {
	case TGetdents, TGetdentsWalk, TWalkNames:
		return true
	case TWalk:
		return len(r.Names) > 4
	}
	return false
}

// help serves requests until none is waiting; its first read blocks if
// flags (0 or MSG_DONTWAIT) say so.
func (s *Server) help(wg *sync.WaitGroup, end chan<- error, flags int) {
	defer wg.Done()
	defer s.helpers.Add(-1)
	bp := s.getScratch()
	defer s.scratch.Put(bp)
	buf := *bp
	watch := s.newWatch()
	defer watch.Stop()
	for {
		req, err := s.next(buf, flags)
		flags = unix.MSG_DONTWAIT
		if err == unix.EAGAIN {
			return
		}
		if err != nil || req == nil {
			sendEnd(end, err)
			return
		}
		s.serve(wg, end, req, watch)
	}
}

// spill starts a helper if requests are waiting and the helpers are not
// all busy.
func (s *Server) spill(wg *sync.WaitGroup, end chan<- error) {
	if s.helpers.Load() >= maxHelpers {
		return
	}
	var b [1]byte
	if _, _, _, _, err := unix.Recvmsg(s.sock, b[:], nil, unix.MSG_PEEK|unix.MSG_DONTWAIT); err != nil {
		return // nothing queued (EAGAIN), or the error the next read meets
	}
	s.startHelper(wg, end, unix.MSG_DONTWAIT)
}

// startStandby starts a helper that waits on the socket, whatever the
// number of helpers: a reply is about to wait for room in the client's
// queue, and the client may first need to finish sending (its callers
// read their replies only after), so the server must go on reading.
func (s *Server) startStandby() {
	s.helpers.Add(1)
	s.wg.Add(1)
	go s.help(s.wg, s.end, 0)
}

// startHelper starts a helper (whose first read blocks unless flags is
// MSG_DONTWAIT) if fewer than maxHelpers run.
func (s *Server) startHelper(wg *sync.WaitGroup, end chan<- error, flags int) {
	if s.helpers.Add(1) > maxHelpers {
		s.helpers.Add(-1)
		return
	}
	wg.Add(1)
	go s.help(wg, end, flags)
}

// next reads the next request that needs an answer (serving clunks on the
// way). It returns nil, nil at the end of the connection.
func (s *Server) next(buf []byte, flags int) (*Request, error) {
	for {
		if flags == 0 {
			s.waiting.Add(1)
		}
		n, _, rflags, _, err := unix.Recvmsg(s.sock, buf, nil, flags)
		if flags == 0 {
			s.waiting.Add(-1)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return nil, ErrMalformed
		}
		req := new(Request)
		if err := DecodeRequest(buf[:n], req); err != nil {
			return nil, err
		}
		switch req.Type {
		case TClunk:
			s.clunk(req.FID)
			continue
		case TClunks:
			for _, fid := range req.FIDs {
				s.clunk(fid)
			}
			continue
		}
		return req, nil
	}
}

// sendEnd reports the end of the connection; only the first report counts
// (a helper may see it too).
func sendEnd(end chan<- error, err error) {
	select {
	case end <- err:
	default:
	}
}
