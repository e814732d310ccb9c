package mm

import (
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// PinForWrite makes application memory [addr, addr+n) writable by the
// sentry (faulting pages in and breaking copy-on-write as a write fault
// would) and appends the memory-file ranges backing it, in address order,
// to out, each with a reference that the caller drops with Unpin. A file
// read can then fill application memory in place through MemoryFile.Slice
// (a host pread straight into the destination pages), with no staging
// copy. The references keep the pages alive if the application unmaps
// them meanwhile (the data then lands in pages no one sees, as on Linux).
//
// It pins all or nothing: ok is false, and nothing is pinned, if part of
// the range is not writable (the caller falls back to CopyOut, which
// reports EFAULT where Linux would) or needs more than cap(out) ranges.
func (mm *MemoryManager) PinForWrite(addr, n uint64, out []memfile.Range) ([]memfile.Range, bool) {
	return mm.pin(addr, n, out, true)
}

// PinForRead is PinForWrite for a source: application memory [addr,
// addr+n) readable by the sentry, faulted in as a read fault would (a
// copy-on-write page is pinned as it is, shared). A file write can then
// take its data straight from the application's pages, with no staging
// copy. A concurrent write by the application to a copy-on-write page
// goes to its new copy, which the pinned view does not see: as racy as
// the same write on Linux.
func (mm *MemoryManager) PinForRead(addr, n uint64, out []memfile.Range) ([]memfile.Range, bool) {
	return mm.pin(addr, n, out, false)
}

func (mm *MemoryManager) pin(addr, n uint64, out []memfile.Range, write bool) ([]memfile.Range, bool) {
	if n == 0 || addr+n < addr {
		return out, false
	}
	start := len(out)
	exclusive := false
	mm.mu.RLock()
	ok := true
	for done := uint64(0); done < n; {
		a := addr + done
		v := mm.findVMALocked(a)
		if v == nil || !v.allows(write, false) {
			ok = false
			break
		}
		p := v.findPMA(a)
		if p == nil || (write && p.cow) {
			if !exclusive {
				mm.mu.RUnlock()
				mm.mu.Lock()
				exclusive = true
				out = out[:start]
				done = 0
				continue // things may have changed; start again
			}
			if !mm.faultForCopyLocked(a, write, false) {
				ok = false
				break
			}
			continue
		}
		cnt := min(p.end-a, n-done)
		off := p.fr.Start + (a - p.start)
		fr := memfile.Range{Start: off, End: off + cnt}
		if k := len(out); k > start && out[k-1].End == fr.Start {
			out[k-1].End = fr.End
		} else if k == cap(out) {
			ok = false
			break
		} else {
			out = append(out, fr)
		}
		done += cnt
	}
	if ok {
		for _, fr := range out[start:] {
			mm.mf.IncRef(pages(fr))
		}
	} else {
		out = out[:start]
	}
	if exclusive {
		mm.mu.Unlock()
	} else {
		mm.mu.RUnlock()
	}
	return out, ok
}

// Unpin drops the references PinForWrite or PinForRead took on frs.
func (mm *MemoryManager) Unpin(frs []memfile.Range) {
	for _, fr := range frs {
		mm.mf.DecRef(pages(fr))
	}
}

// pages returns the whole pages holding the bytes of fr.
func pages(fr memfile.Range) memfile.Range {
	return memfile.Range{Start: usermem.PageRoundDown(fr.Start), End: usermem.PageRoundDown(fr.End + usermem.PageSize - 1)}
}

// Slice returns the sentry's view of fr, a range pinned by PinForWrite or
// PinForRead (ranges are byte ranges; the references are on their whole
// pages).
func (mm *MemoryManager) Slice(fr memfile.Range) []byte { return mm.mf.Slice(fr) }
