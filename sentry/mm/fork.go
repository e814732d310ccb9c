package mm

import (
	"fmt"
	"strings"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Fork returns a new address space with the same vmas, for fork(2) without
// CLONE_VM. Private memory becomes copy-on-write in both address spaces
// (the parent loses write permission on its host mappings of it now; the
// child maps it lazily); shared mappings stay shared. Vmas marked
// MADV_DONTFORK are not copied, and MADV_WIPEONFORK ones are copied empty.
//
// near are the forking thread's instruction and stack pointers, if known:
// the child maps what is in memory around both at once (prefaultFork), and
// the stack pointer's page is copied for the parent at once rather than
// made copy-on-write.
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
	// The parent's remaps, for all its vmas, in one batch: one request to
	// a systrap stub for a small process instead of one per writable vma.
	var remaps mapBatch
	remaps.init(mm)
	ok := true
	// own is the page of the forking thread's stack pointer (near[1]),
	// which the parent gets a copy of now; old its former range, freed
	// once the parent's host mapping no longer names it.
	var own uint64
	var old memfile.Range
	if len(near) > 1 {
		own = usermem.PageRoundDown(near[1])
	}
	defer func() {
		if old.End != 0 {
			mm.mf.DecRef(old)
		}
	}()
	for _, v := range mm.vmas {
		if v.dontFork {
			continue
		}
		nv := new(vma)
		*nv = *v
		nv.pmas = nil
		if nv.hold != nil {
			nv.hold(true)
		}
		child.vmas = append(child.vmas, nv)
		if v.private && v.wipeOnFork {
			continue
		}
		k := -1
		if own >= v.start && own < v.end && v.private && v.perms.Write {
			if p := v.findPMA(own); p != nil && !p.cow {
				v.splitPMAAt(own)
				v.splitPMAAt(own + usermem.PageSize)
				k = v.pmaIndex(own)
			}
		}
		nv.pmas = make([]pma, len(v.pmas))
		remap := false
		for i := range v.pmas {
			p := &v.pmas[i]
			mm.mf.IncRef(p.fr)
			if v.private && !p.cow {
				mm.layoutGen++
				p.cow = true
				remap = remap || v.perms.Write
			}
			nv.pmas[i] = *p
		}
		if k >= 0 {
			// The stack page is written by both sides at once (return
			// addresses, locals): as a copy-on-write page it cost each a
			// fault, a platform round trip and a remap. The parent gets a
			// copy now, the child keeps the page, its own from here.
			if fr, err := mm.mf.AllocateUnzeroed(usermem.PageSize); err == nil {
				p := &v.pmas[k]
				copy(mm.mf.Slice(fr), mm.mf.Slice(p.fr))
				old, p.fr, p.cow = p.fr, fr, false
				nv.pmas[k].cow = false
				remap = remap || v.perms.Write
			}
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
		// The parent's host mapping may still name old: keep it
		// allocated (a page lost in a failure of the platform) rather
		// than let it be reused under that mapping.
		old = memfile.Range{}
		return nil, fmt.Errorf("mm: remapping parent for fork: platform failure")
	}
	if pf, ok := mm.as.(patchForker); ok {
		pf.ForkPatches(child.as)
	}
	child.prefaultFork(near)
	return child, nil
}

// prefaultFork maps, in one batch, what the new child has in memory in the
// fault window around each address of near (the forking thread's
// instruction and stack pointers): a child's first instructions run where
// its parent forked, on its stack, and without this each of those pages is
// a fault, on a systrap stub a platform round trip and a map request,
// before the child does anything. Copy-on-write pages are mapped read-only, as a fault would; a
// failure here only leaves the pages to fault.
func (mm *MemoryManager) prefaultFork(near []uint64) {
	if len(near) == 0 || mm.as == nil {
		return
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var b mapBatch
	b.init(mm)
	for _, a := range near {
		v := mm.findVMALocked(a)
		if v == nil || !v.perms.Any() {
			continue
		}
		s, e := faultWindow(v, a, windowFor(v))
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
