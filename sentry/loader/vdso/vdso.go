// Package vdso owns Rampart's virtual dynamic shared object: a small
// shared library (vdso.c, prebuilt into vdso.so and embedded) mapped into
// every application address space, that serves clock_gettime,
// gettimeofday, time, clock_getres and getcpu without a syscall, and the
// parameter page ("[vvar]") below it that the sentry keeps current.
//
// The parameter page holds, under a seqlock, a TSC reading, a
// multiplier/shift converting TSC ticks to nanoseconds, and each served
// clock's time at that reading. Update refreshes it from the host clocks;
// Start runs Update periodically. Between updates the vDSO extrapolates
// with the TSC; Update keeps the monotonic clocks monotonic across
// refreshes by never moving them back, and slews away any lead.
//
// Rebuild vdso.so with ./build.sh (needs gcc); TestBlobUpToDate fails when
// the checked-in blob differs from a fresh build.
package vdso

import (
	"bytes"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/mm"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

//go:embed vdso.so
var blob []byte

// Blob returns the vDSO ELF image (for tests and tools; do not modify).
func Blob() []byte { return blob }

// rdtsc reads the time-stamp counter (LFENCE; RDTSC).
func rdtsc() uint64

// UpdateInterval is how often Start's goroutine refreshes the parameter
// page. With a calibrated TSC the extrapolation error over one interval is
// well below a microsecond.
const UpdateInterval = 100 * time.Millisecond

// Mapper is what Map needs of an address space; *mm.MemoryManager
// implements it.
type Mapper interface {
	MMap(opts mm.MMapOpts) (uint64, error)
	MUnmap(addr, length uint64) error
}

var _ Mapper = (*mm.MemoryManager)(nil)

// VDSO is the vDSO image and its parameter page in the memory file. One
// VDSO serves the whole sandbox; it is safe for concurrent use.
type VDSO struct {
	mf *memfile.MemoryFile
	// fr holds the parameter page followed by the image pages; the VDSO
	// owns one reference on it until Release.
	fr       memfile.Range
	textSize uint64 // page-rounded image size
	p        params

	// mu serialises writers of the parameter page and protects the
	// clock state below.
	mu    sync.Mutex
	clock clockState

	// stop and done control Start's goroutine; protected by mu.
	stop chan struct{}
	done chan struct{}
}

// New validates the embedded image, allocates the parameter page and the
// image pages in mf, copies the image, and fills the parameter page (TSC
// calibration takes about 10 ms).
//
// start, if not nil, is a Sample taken earlier (by the process that
// started the sandbox), which opens the calibration window: the wait is
// only what is left of it.
func New(mf *memfile.MemoryFile, start *Sample) (*VDSO, error) {
	textSize, err := validateImage(blob)
	if err != nil {
		return nil, err
	}
	fr, err := mf.Allocate(usermem.PageSize + textSize)
	if err != nil {
		return nil, fmt.Errorf("vdso: allocating %d bytes: %w", usermem.PageSize+textSize, err)
	}
	mem := mf.Slice(fr)
	if uint64(len(mem)) != fr.Length() {
		mf.DecRef(fr)
		return nil, fmt.Errorf("vdso: memory file returned a %d-byte view of a %d-byte range", len(mem), fr.Length())
	}
	copy(mem[usermem.PageSize:], blob)
	v := &VDSO{mf: mf, fr: fr, textSize: textSize, p: paramsAt(mem)}
	v.init(start)
	return v, nil
}

// newForPage returns a VDSO that writes its parameters to page (tests).
func newForPage(page []uint64) *VDSO {
	v := &VDSO{p: params{page: pagePtr(page)}}
	v.init(nil)
	if d := v.calibrationDue(); d > 0 {
		time.Sleep(d)
		v.Update()
	}
	return v
}

func (v *VDSO) init(start *Sample) {
	v.clock.ncpus = uint32(runtime.NumCPU())
	v.clock.getcpuMode = hostGetcpuMode()
	v.clock.tscOK = hostInvariantTSC()
	v.mu.Lock()
	v.calibrateLocked(start)
	v.updateLocked()
	v.mu.Unlock()
}

// SetNumCPUs sets the CPU count that getcpu's answers are clamped to (the
// sandbox's, which may be below the host's).
func (v *VDSO) SetNumCPUs(n int) {
	if n < 1 {
		n = 1
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clock.ncpus = uint32(n)
	v.updateLocked()
}

// Release drops the VDSO's reference on its pages (mappings keep theirs).
// It stops Start's goroutine.
func (v *VDSO) Release() {
	v.Stop()
	if v.mf != nil {
		v.mf.DecRef(v.fr)
	}
}

// validateImage checks that img is a vDSO the sentry can map by copying it:
// an x86-64 ET_DYN whose one PT_LOAD starts at file offset and address 0
// with p_filesz == p_memsz, with the symbols glibc looks up and nothing
// that needs a dynamic loader (relocations). It returns the page-rounded
// image size.
func validateImage(img []byte) (uint64, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return 0, fmt.Errorf("vdso: bad image: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_DYN {
		return 0, errors.New("vdso: image is not an x86-64 shared object")
	}
	var loads int
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		loads++
		if p.Off != 0 || p.Vaddr != 0 || p.Filesz != p.Memsz || p.Filesz > uint64(len(img)) {
			return 0, fmt.Errorf("vdso: PT_LOAD (off %#x vaddr %#x filesz %#x memsz %#x) is not the file's start", p.Off, p.Vaddr, p.Filesz, p.Memsz)
		}
		if p.Flags&elf.PF_W != 0 {
			return 0, errors.New("vdso: PT_LOAD is writable")
		}
	}
	if loads != 1 {
		return 0, fmt.Errorf("vdso: %d PT_LOAD segments, want 1", loads)
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_REL || s.Type == elf.SHT_RELA {
			return 0, fmt.Errorf("vdso: image has relocations (%s)", s.Name)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return 0, fmt.Errorf("vdso: reading symbols: %w", err)
	}
	want := map[string]bool{"__vdso_clock_gettime": false, "__vdso_gettimeofday": false, "__vdso_time": false, "__vdso_getcpu": false, "__vdso_clock_getres": false}
	for _, s := range syms {
		if _, ok := want[s.Name]; ok && s.Version == "LINUX_2.6" && s.Section != elf.SHN_UNDEF {
			want[s.Name] = true
		}
	}
	for name, ok := range want {
		if !ok {
			return 0, fmt.Errorf("vdso: image lacks %s@LINUX_2.6", name)
		}
	}
	size, _ := usermem.PageRoundUp(uint64(len(img)))
	return size, nil
}

// Map maps the parameter page ("[vvar]", read-only, shared) and the image
// ("[vdso]", read+execute) into m at an address mmap chooses, and returns
// the image's address for AT_SYSINFO_EHDR.
func (v *VDSO) Map(m Mapper) (uint64, error) {
	if v.mf == nil {
		return 0, errors.New("vdso: no memory file")
	}
	mp := &pagesMappable{mf: v.mf, fr: v.fr}
	total := usermem.PageSize + v.textSize
	// The first mapping covers both, so that mmap finds room for the
	// pair; the second replaces its upper part.
	addr, err := m.MMap(mm.MMapOpts{
		Length:   total,
		Perms:    usermem.Read,
		MaxPerms: usermem.Read,
		Mappable: mp,
		Name:     "[vvar]",
	})
	if err != nil {
		return 0, fmt.Errorf("vdso: mapping [vvar]: %w", err)
	}
	rx := usermem.AccessType{Read: true, Execute: true}
	if _, err := m.MMap(mm.MMapOpts{
		Length: v.textSize,
		Addr:   addr + usermem.PageSize,
		Fixed:  true,
		Unmap:  true,
		// Private, so that a debugger's breakpoint (a forced write)
		// copies the page instead of changing every process's vDSO.
		Private:  true,
		Perms:    rx,
		MaxPerms: rx,
		Mappable: mp,
		Offset:   usermem.PageSize,
		Name:     "[vdso]",
	}); err != nil {
		_ = m.MUnmap(addr, total)
		return 0, fmt.Errorf("vdso: mapping [vdso]: %w", err)
	}
	return addr + usermem.PageSize, nil
}

// pagesMappable maps the VDSO's fixed memory-file range: offset 0 is the
// parameter page, then the image.
type pagesMappable struct {
	mf *memfile.MemoryFile
	fr memfile.Range
}

// Translate implements memmap.Mappable.Translate.
func (p *pagesMappable) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	if off >= p.fr.Length() {
		return memfile.Range{}, memmap.ErrBeyondEOF
	}
	if at.Write {
		return memfile.Range{}, unix.EACCES
	}
	n := p.fr.Length() - off
	if maxLen < n {
		n = maxLen
	}
	n = usermem.PageRoundDown(n)
	if n == 0 {
		n = usermem.PageSize
	}
	fr := memfile.Range{Start: p.fr.Start + off, End: p.fr.Start + off + n}
	p.mf.IncRef(fr)
	return fr, nil
}

// Start starts a goroutine that calls Update every UpdateInterval until
// Stop. Calling Start twice is a no-op.
func (v *VDSO) Start() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stop != nil {
		return
	}
	v.stop, v.done = make(chan struct{}), make(chan struct{})
	go v.run(v.stop, v.done)
}

// Now reads clock id from the parameter page as the vDSO does, at this
// TSC reading: ok is false where the vDSO makes the syscall (no TSC yet,
// a clock it does not serve). The sentry answers the syscall with it too
// (kernel.Config.AppClock), so that the two never disagree.
func (v *VDSO) Now(id int32) (int64, bool) {
	s := v.p.read()
	ns, ok := s.clockNS(int(id), rdtsc())
	return int64(ns), ok
}

// Stop stops Start's goroutine and waits for it.
func (v *VDSO) Stop() {
	v.mu.Lock()
	stop, done := v.stop, v.done
	v.stop, v.done = nil, nil
	v.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

func (v *VDSO) run(stop, done chan struct{}) {
	defer close(done)
	if d := v.calibrationDue(); d > 0 {
		// New published "no TSC": switch to the TSC as soon as the
		// first window is long enough.
		first := time.NewTimer(d)
		select {
		case <-stop:
			first.Stop()
			return
		case <-first.C:
			v.Update()
		}
	}
	t := time.NewTicker(UpdateInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			v.Update()
		}
	}
}

// Update refreshes the parameter page from the host clocks.
func (v *VDSO) Update() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.updateLocked()
}

func hostInvariantTSC() bool {
	if max, _, _, _ := arch.CPUID(0x80000000, 0); max < 0x80000007 {
		return false
	}
	_, _, _, edx := arch.CPUID(0x80000007, 0)
	return edx&(1<<8) != 0
}

func hostGetcpuMode() uint32 {
	if max, _, _, _ := arch.CPUID(0, 0); max >= 7 {
		if _, _, ecx, _ := arch.CPUID(7, 0); ecx&(1<<22) != 0 {
			return getcpuRDPID
		}
	}
	if max, _, _, _ := arch.CPUID(0x80000000, 0); max >= 0x80000001 {
		if _, _, _, edx := arch.CPUID(0x80000001, 0); edx&(1<<27) != 0 {
			return getcpuRDTSCP
		}
	}
	return getcpuZero
}
