package mm

import (
	"sync"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// forkHintMax is how many of a forked child's first faults its parent's
// hints keep, and how many of them a child records. A dynamically linked
// child faults on a dozen or two distinct pages before its _exit or exec
// (its stack, the C library's and the dynamic linker's data, the code of
// the fork handlers), a shell's subshell on more: with 8 hints, children
// took turns faulting on the half the ring had just dropped (11.6 host
// signals a fork+_exit+waitpid of a dynamic program, 4.1 with 32). A
// child the hints do not fit costs at most this many page copies and
// one map request longer by as many windows.
const forkHintMax = 64

// forkHints are the pages that a process' forked children faulted on
// first (shared by the parent's MemoryManager, which reads them at Fork,
// and its children's, which record them). A process forks to run the same
// code again (a shell, a server, a build), whose children touch the same
// few pages first (the C library's fork handling resets locks and
// counters in its data; the child's code): the next Fork copies the
// written ones for the child at once and maps the others, so that the
// child runs without those faults, a platform round trip and a map
// request each.
type forkHints struct {
	mu sync.Mutex
	// pages is a ring of the last distinct pages, next the slot the
	// next one takes.
	pages [forkHintMax]forkHint
	next  int
}

// forkHint is a page address (0 for none: no application page is there),
// and whether the fault on it was a write.
type forkHint struct {
	page  uint64
	write bool
}

// record notes a child's fault at addr.
func (h *forkHints) record(addr uint64, write bool) {
	page := usermem.PageRoundDown(addr)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.pages {
		if p := &h.pages[i]; p.page == page {
			p.write = p.write || write
			return
		}
	}
	h.pages[h.next] = forkHint{page: page, write: write}
	h.next = (h.next + 1) % forkHintMax
}

// snapshot returns the hints.
func (h *forkHints) snapshot() (out [forkHintMax]forkHint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pages
}
