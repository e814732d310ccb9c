package mm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// maxForkNear bounds the addresses Fork takes.
const maxForkNear = 3

// Fork returns a new address space with the same vmas, for fork(2) without
// CLONE_VM. Private memory becomes copy-on-write in both address spaces
// (the parent loses write permission on its host mappings of it now; the
// child maps it lazily); shared mappings stay shared. Vmas marked
// MADV_DONTFORK are not copied, and MADV_WIPEONFORK ones are copied empty.
//
// near are the forking thread's instruction pointer, then addresses the
// child writes first: its stack pointer, and the CLONE_CHILD_SETTID word
// the kernel writes for it (at most maxForkNear in all; 0 for none). The
// child gets its own copy at once of the pages it will write first: those
// of near, and those earlier children of this process wrote first
// (forkHints); it maps what is in memory around near and those pages in
// one request (prefaultFork). Each was a fault, a platform round trip and
// a map request, for the child and, for a copy-on-write page it writes too
// (its stack), the parent.
func (mm *MemoryManager) Fork(near ...uint64) (*MemoryManager, error) {
	child, err := NewMemoryManager(mm.p, mm.mf)
	if err != nil {
		return nil, err
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	child.brkStart, child.brk, child.dataLimit = mm.brkStart, mm.brk, mm.dataLimit
	child.mmapBase, child.stackLimit, child.asLimit = mm.mmapBase, mm.stackLimit, mm.asLimit
	child.argvStart, child.argvEnd, child.envStart, child.envEnd = mm.argvStart, mm.argvEnd, mm.envStart, mm.envEnd
	child.auxv = append([]uint64(nil), mm.auxv...)
	child.vmas = make([]*vma, 0, len(mm.vmas))
	if mm.hints == nil {
		mm.hints = new(forkHints)
	}
	child.parentHints, child.hintsLeft = mm.hints, forkHintMax
	// own are the pages copied for the child now, prefault the addresses
	// whose windows it maps.
	var own, prefault [forkHintMax + maxForkNear]uint64
	no, np := 0, 0
	near = near[:min(len(near), maxForkNear)]
	for i, a := range near {
		if i > 0 && a != 0 && !slices.Contains(own[:no], usermem.PageRoundDown(a)) {
			own[no] = usermem.PageRoundDown(a)
			no++
		}
		prefault[np] = a
		np++
	}
	for _, h := range mm.hints.snapshot() {
		if h.page == 0 {
			continue
		}
		if h.write && !slices.Contains(own[:no], h.page) {
			own[no] = h.page
			no++
		}
		prefault[np] = h.page
		np++
	}
	// The parent's remaps, for all its vmas, in one batch: one request to
	// a systrap stub for a small process instead of one per writable vma.
	var remaps mapBatch
	remaps.init(mm)
	ok := true
	for _, v := range mm.vmas {
		if v.dontFork {
			continue
		}
		nv := new(vma)
		*nv = *v
		nv.pmas = nil
		child.holdVMA(nv, true)
		child.vmas = append(child.vmas, nv)
		if v.private && v.wipeOnFork {
			continue
		}
		copied := false
		if v.private && v.perms.Write {
			for _, pg := range own[:no] {
				if pg >= v.start && pg < v.end && v.findPMA(pg) != nil {
					v.splitPMAAt(pg)
					v.splitPMAAt(pg + usermem.PageSize)
					copied = true
				}
			}
		}
		nv.pmas = make([]pma, len(v.pmas))
		remap := false
		for i := range v.pmas {
			p := &v.pmas[i]
			if copied && p.end-p.start == usermem.PageSize && slices.Contains(own[:no], p.start) {
				// The child's own copy: the parent keeps the page as
				// it was (shared or not), mapped as it was.
				if fr, err := mm.mf.AllocateUnzeroed(usermem.PageSize); err == nil {
					copy(mm.mf.Slice(fr), mm.mf.Slice(p.fr))
					nv.pmas[i] = pma{start: p.start, end: p.end, fr: fr}
					continue
				}
			}
			mm.mf.IncRef(p.fr)
			if v.private && !p.cow {
				mm.layoutGen++
				p.cow = true
				remap = remap || v.perms.Write
			}
			nv.pmas[i] = *p
		}
		// Keep the parent's host mapping in step: what was writable is
		// read-only now. One pass over the vma, so that contiguous pmas
		// are remapped together.
		if remap && ok {
			ok = remaps.addRange(v, v.start, v.end)
		}
	}
	if !ok || !remaps.flush() {
		child.Release()
		return nil, fmt.Errorf("mm: remapping parent for fork: platform failure")
	}
	if pf, ok := mm.as.(patchForker); ok {
		pf.ForkPatches(child.as)
	}
	child.prefaultFork(prefault[:np])
	return child, nil
}

// prefaultFork maps, in one batch, what the new child has in memory in the
// fault window around each address of near (see Fork), filling the window
// first where it has nothing at that address. Copy-on-write pages are
// mapped read-only, as a fault would; a failure here only leaves the pages
// to fault.
func (mm *MemoryManager) prefaultFork(near []uint64) {
	if len(near) == 0 || mm.as == nil {
		return
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var b mapBatch
	b.init(mm)
	// Windows already added are skipped: hints often share one.
	var done [forkHintMax + maxForkNear][2]uint64
	nd := 0
next:
	for _, a := range near {
		v := mm.findVMALocked(a)
		if v == nil || !v.perms.Any() {
			continue
		}
		if v.findPMA(a) == nil {
			// The parent had nothing there (a heap page only its
			// children touch): fill it as the child's fault would, and
			// map what was filled.
			if _, ok := mm.fillAddLocked(&b, v, a, 0); !ok {
				return
			}
			continue
		}
		s, e := faultWindow(v, a, windowFor(v))
		for _, d := range done[:nd] {
			if d[0] == s && d[1] == e {
				continue next
			}
		}
		done[nd] = [2]uint64{s, e}
		nd++
		if !b.addRange(v, s, e) {
			return
		}
	}
	b.flush()
}

// MappingIdentity is implemented by Mappables that can name their file in
// /proc/[pid]/maps (device and inode columns).
type MappingIdentity interface {
	MappingIdentity() (major, minor uint32, ino uint64)
}

// mapsNameColumn is the width to which Linux pads the fields of a
// /proc/[pid]/maps line before the space that precedes the name.
const mapsNameColumn = 72

// MapsText returns the contents of /proc/[pid]/maps.
func (mm *MemoryManager) MapsText() string {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var b strings.Builder
	for _, v := range mm.vmas {
		writeMapsLine(&b, v)
	}
	return b.String()
}

func writeMapsLine(b *strings.Builder, v *vma) {
	var major, minor uint32
	var ino, off uint64
	if v.mappable != nil {
		off = v.off
		if id, ok := v.mappable.(MappingIdentity); ok {
			major, minor, ino = id.MappingIdentity()
		}
	}
	shared := byte('s')
	if v.private {
		shared = 'p'
	}
	start := b.Len()
	fmt.Fprintf(b, "%08x-%08x %s%c %08x %02x:%02x %d ", v.start, v.end, v.perms.String(), shared, off, major, minor, ino)
	if v.name != "" {
		for b.Len()-start < mapsNameColumn {
			b.WriteByte(' ')
		}
		b.WriteByte(' ')
		b.WriteString(v.name)
	}
	b.WriteByte('\n')
}

// Compile-time check that sharedAnon is a Mappable.
var _ memmap.Mappable = (*sharedAnon)(nil)
