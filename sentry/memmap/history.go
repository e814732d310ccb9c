package memmap

import "sync"

// FaultHistory remembers which windows of a file (file offset / a window
// size the memory manager chooses) applications faulted on through
// mappings of it. The next mapper of the file fills and maps those windows
// at its first fault in a vma of the file, in that fault's one platform
// request, instead of taking a fault and a request for each: programs run
// again and again in a sandbox (a shell script's commands, a build's
// compiler, the C library under all of them) touch the same code and data
// each time. It is only a hint: a window remembered but not needed costs
// the mapping of pages already cached.
//
// The zero value is empty and ready; it is safe for concurrent use.
type FaultHistory struct {
	mu sync.Mutex
	// bits has bit w set for each window w remembered, w < maxHistory.
	bits []uint64
}

// maxHistory bounds the windows a history remembers (with 256 KiB
// windows, the first GiB of a file).
const maxHistory = 4096

// Add remembers window w; windows past the bound are not remembered.
func (h *FaultHistory) Add(w uint64) {
	if w >= maxHistory {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := int(w / 64); i >= len(h.bits) {
		h.bits = append(h.bits, make([]uint64, i+1-len(h.bits))...)
	}
	h.bits[w/64] |= 1 << (w % 64)
}

// AppendRange appends to buf the remembered windows in [lo, hi), in
// order, at most max of them, and returns it.
func (h *FaultHistory) AppendRange(buf []uint64, lo, hi uint64, max int) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	hi = min(hi, uint64(len(h.bits))*64)
	for w := lo; w < hi && max > 0; w++ {
		word := h.bits[w/64] >> (w % 64)
		if word == 0 {
			w |= 63 // the rest of this word is empty
			continue
		}
		if word&1 != 0 {
			buf = append(buf, w)
			max--
		}
	}
	return buf
}

// FaultHistoryHolder is implemented by Mappables that keep a FaultHistory
// (one per file).
type FaultHistoryHolder interface {
	FaultHistory() *FaultHistory
}
