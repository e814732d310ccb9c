package loader

import (
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/mm"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// bytesFile is an in-memory executable.
type bytesFile struct {
	data     []byte
	released *int
}

func (f *bytesFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(f.data)) {
		return 0, nil
	}
	n := copy(p, f.data[off:])
	return n, nil
}
func (f *bytesFile) Size() int64               { return int64(len(f.data)) }
func (f *bytesFile) Mappable() memmap.Mappable { return &bytesMappable{data: f.data} }
func (f *bytesFile) Hold() func(bool)          { return nil }
func (f *bytesFile) Release()                  { *f.released++ }

// bytesMappable is the fake Mappable; fakeMM reads its data directly.
type bytesMappable struct{ data []byte }

func (m *bytesMappable) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	return memfile.Range{}, unix.ENOSYS
}

// fakeFS is an Opener over in-memory files, falling back to host files
// for names in host.
type fakeFS struct {
	files    map[string][]byte
	host     bool
	opened   []string
	open     int
	released int
}

func (fs *fakeFS) OpenExecutable(name string) (File, string, error) {
	fs.opened = append(fs.opened, name)
	if d, ok := fs.files[name]; ok {
		fs.open++
		return &bytesFile{data: d, released: &fs.released}, name, nil
	}
	if fs.host {
		d, err := os.ReadFile(name)
		if err != nil {
			return nil, "", unix.ENOENT
		}
		fs.open++
		return &bytesFile{data: d, released: &fs.released}, name, nil
	}
	return nil, "", unix.ENOENT
}

type fakeVMA struct {
	start, end         uint64
	perms, maxPerms    usermem.AccessType
	private, growsDown bool
	name               string
	file               []byte // nil: anonymous
	off                uint64
}

// fakeMM is a minimal address space for loader tests: vmas plus the
// contents of pages that were written; other pages read from their file
// or as zeros.
type fakeMM struct {
	max      uint64
	mmapBase uint64
	vmas     []fakeVMA
	pages    map[uint64][]byte

	brk                                  uint64
	argvStart, argvEnd, envStart, envEnd uint64
	auxv                                 []uint64
	failMMapAfter                        int // fail the n-th MMap (1-based) if > 0
	nmmap                                int
}

func (m *fakeMM) ZeroOutForce(addr, n uint64) (int, error) {
	return m.write(addr, make([]byte, n), true)
}
func (m *fakeMM) SetMMapBase(addr uint64) { m.mmapBase = addr }

func newFakeMM(max uint64) *fakeMM {
	return &fakeMM{max: max, mmapBase: usermem.PageRoundDown(max / 2), pages: map[uint64][]byte{}}
}

func (m *fakeMM) find(addr uint64) *fakeVMA {
	for i := range m.vmas {
		if m.vmas[i].start <= addr && addr < m.vmas[i].end {
			return &m.vmas[i]
		}
	}
	return nil
}

func (m *fakeMM) removeRange(start, end uint64) {
	var out []fakeVMA
	for _, v := range m.vmas {
		if v.end <= start || v.start >= end {
			out = append(out, v)
			continue
		}
		if v.start < start {
			l := v
			l.end = start
			out = append(out, l)
		}
		if v.end > end {
			r := v
			if r.file != nil {
				r.off += end - v.start
			}
			r.start = end
			out = append(out, r)
		}
	}
	m.vmas = out
	if (end-start)/usermem.PageSize > uint64(len(m.pages)) {
		// A range larger than what was written (a fuzzed segment
		// may span terabytes): walk the pages instead.
		for a := range m.pages {
			if start <= a && a < end {
				delete(m.pages, a)
			}
		}
		return
	}
	for a := start; a < end; a += usermem.PageSize {
		delete(m.pages, a)
	}
}

func (m *fakeMM) MMap(o mm.MMapOpts) (uint64, error) {
	m.nmmap++
	if m.failMMapAfter > 0 && m.nmmap >= m.failMMapAfter {
		return 0, unix.ENOMEM
	}
	length, ok := usermem.PageRoundUp(o.Length)
	if !ok || length == 0 || length > m.max {
		return 0, unix.ENOMEM
	}
	addr := o.Addr
	if o.Fixed {
		if !usermem.IsPageAligned(addr) {
			return 0, unix.EINVAL
		}
		if addr+length < addr || addr+length > m.max || addr < 0x10000 {
			return 0, unix.ENOMEM
		}
		if !o.Unmap {
			for _, v := range m.vmas {
				if v.start < addr+length && addr < v.end {
					return 0, unix.EEXIST
				}
			}
		}
	} else {
		// Top-down first fit below mmapBase.
		addr = 0
		top := m.mmapBase
		sort.Slice(m.vmas, func(i, j int) bool { return m.vmas[i].start > m.vmas[j].start })
		for _, v := range m.vmas {
			if v.start >= top {
				continue
			}
			if v.end <= top-length {
				break
			}
			top = v.start
		}
		if top < length+0x10000 {
			return 0, unix.ENOMEM
		}
		addr = top - length
	}
	m.removeRange(addr, addr+length)
	v := fakeVMA{start: addr, end: addr + length, perms: o.Perms, maxPerms: o.MaxPerms,
		private: o.Private, growsDown: o.GrowsDown, name: o.Name, off: o.Offset}
	if o.Mappable != nil {
		bm, ok := o.Mappable.(*bytesMappable)
		if !ok {
			return 0, unix.EINVAL
		}
		v.file = bm.data
	}
	m.vmas = append(m.vmas, v)
	sort.Slice(m.vmas, func(i, j int) bool { return m.vmas[i].start < m.vmas[j].start })
	return addr, nil
}

func (m *fakeMM) MUnmap(addr, length uint64) error {
	if !usermem.IsPageAligned(addr) {
		return unix.EINVAL
	}
	l, _ := usermem.PageRoundUp(length)
	m.removeRange(addr, addr+l)
	return nil
}

// page returns the content of the page at pa (materialising it).
func (m *fakeMM) page(pa uint64) ([]byte, *fakeVMA) {
	v := m.find(pa)
	if v == nil {
		return nil, nil
	}
	if p, ok := m.pages[pa]; ok {
		return p, v
	}
	p := make([]byte, usermem.PageSize)
	if v.file != nil {
		off := v.off + (pa - v.start)
		if off < uint64(len(v.file)) {
			copy(p, v.file[off:])
		}
	}
	m.pages[pa] = p
	return p, v
}

func (m *fakeMM) write(addr uint64, src []byte, force bool) (int, error) {
	done := 0
	for done < len(src) {
		a := addr + uint64(done)
		p, v := m.page(usermem.PageRoundDown(a))
		if p == nil || (!force && !v.perms.Write) {
			return done, unix.EFAULT
		}
		done += copy(p[a&usermem.PageMask:], src[done:])
	}
	return done, nil
}

// read reads mapped memory regardless of permissions.
func (m *fakeMM) read(addr uint64, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		a := addr + uint64(len(out))
		p, _ := m.page(usermem.PageRoundDown(a))
		if p == nil {
			return out, unix.EFAULT
		}
		rest := p[a&usermem.PageMask:]
		if len(rest) > n-len(out) {
			rest = rest[:n-len(out)]
		}
		out = append(out, rest...)
	}
	return out, nil
}

func (m *fakeMM) CopyOut(addr uint64, src []byte) (int, error) { return m.write(addr, src, false) }
func (m *fakeMM) SetBrkStart(addr uint64)                      { m.brk = addr }
func (m *fakeMM) SetArgvEnv(a, b, c, d uint64) {
	m.argvStart, m.argvEnd, m.envStart, m.envEnd = a, b, c, d
}
func (m *fakeMM) SetAuxv(auxv []uint64) { m.auxv = auxv }
