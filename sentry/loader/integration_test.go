package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/mm"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// nopPlatform gives the real mm address spaces that map nothing.
type nopPlatform struct{}

func (nopPlatform) NewAddressSpace() (platform.AddressSpace, error) { return nopAS{}, nil }
func (nopPlatform) NewContext() platform.Context                    { return nil }
func (nopPlatform) MinUserAddress() uint64                          { return 0x10000 }
func (nopPlatform) MaxUserAddress() uint64                          { return testMaxAddr }
func (nopPlatform) Close()                                          {}

type nopAS struct{}

func (nopAS) MapFile(addr uint64, fd int, off, length uint64, at usermem.AccessType) error {
	return nil
}
func (nopAS) Unmap(addr, length uint64) error { return nil }
func (nopAS) Release()                        {}

// mfFile is an executable whose contents live in the memory file.
type mfFile struct {
	mf    *memfile.MemoryFile
	fr    memfile.Range
	data  []byte
	holds int
}

func newMFFile(t *testing.T, mf *memfile.MemoryFile, data []byte) *mfFile {
	l, _ := usermem.PageRoundUp(uint64(len(data)))
	if l == 0 {
		l = usermem.PageSize
	}
	fr, err := mf.Allocate(l)
	if err != nil {
		t.Fatal(err)
	}
	copy(mf.Slice(fr), data)
	return &mfFile{mf: mf, fr: fr, data: data}
}

func (f *mfFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, nil
	}
	return copy(p, f.data[off:]), nil
}
func (f *mfFile) Size() int64               { return int64(len(f.data)) }
func (f *mfFile) Mappable() memmap.Mappable { return f }
func (f *mfFile) Hold() func(bool) {
	return func(inc bool) {
		if inc {
			f.holds++
		} else {
			f.holds--
		}
	}
}
func (f *mfFile) Release() {}

func (f *mfFile) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	if off >= f.fr.Length() {
		return memfile.Range{}, memmap.ErrBeyondEOF
	}
	n := min(f.fr.Length()-off, maxLen)
	fr := memfile.Range{Start: f.fr.Start + off, End: f.fr.Start + off + n}
	f.mf.IncRef(fr)
	return fr, nil
}

type mfFS struct {
	mf    *memfile.MemoryFile
	t     *testing.T
	files map[string]*mfFile
}

func (fs *mfFS) OpenExecutable(name string) (File, string, error) {
	if f, ok := fs.files[name]; ok {
		return f, name, nil
	}
	d, err := os.ReadFile(name)
	if err != nil {
		return nil, "", unix.ENOENT
	}
	f := newMFFile(fs.t, fs.mf, d)
	fs.files[name] = f
	return f, name, nil
}

func TestIntegrationRealMM(t *testing.T) {
	const exe = "/bin/true"
	if _, err := os.Stat(exe); err != nil {
		t.Skip(err)
	}
	mf, err := memfile.New("loader-test")
	if err != nil {
		t.Skip("no memory file:", err)
	}
	defer mf.Close()
	m, err := mm.NewMemoryManager(nopPlatform{}, mf)
	if err != nil {
		t.Skip("no mm:", err)
	}
	defer m.Release()
	v, err := vdso.New(mf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Release()

	fs := &mfFS{mf: mf, t: t, files: map[string]*mfFile{}}
	img, err := Load(Args{
		Filename:       exe,
		Argv:           []string{"true", "x"},
		Envv:           []string{"HOME=/"},
		Opener:         fs,
		MM:             m,
		MaxUserAddress: testMaxAddr,
		VDSO:           v,
		StackLimit:     8 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	maps := m.MapsText()
	t.Logf("maps:\n%s", maps)
	for _, want := range []string{"[stack]", "[vdso]", "[vvar]", exe} {
		if !strings.Contains(maps, want) {
			t.Errorf("maps lack %s", want)
		}
	}
	if m.MMapBase() != img.MMapBase || m.BrkStart() != img.BrkStart {
		t.Errorf("mm mmap base %#x brk %#x; image %#x %#x", m.MMapBase(), m.BrkStart(), img.MMapBase, img.BrkStart)
	}

	// The stack, read back through the mm.
	word := func(a uint64) uint64 {
		var b [8]byte
		if _, err := m.CopyIn(a, b[:]); err != nil {
			t.Fatalf("CopyIn %#x: %v", a, err)
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	if word(img.StackPointer) != 2 {
		t.Fatalf("argc %d", word(img.StackPointer))
	}
	if s, err := m.CopyInString(word(img.StackPointer+16), 100); err != nil || s != "x" {
		t.Errorf("argv[1] = %q, %v", s, err)
	}
	auxv := m.Auxv()
	aux := map[uint64]uint64{}
	for i := 0; i+1 < len(auxv); i += 2 {
		aux[auxv[i]] = auxv[i+1]
	}
	if aux[AT_SYSINFO_EHDR] != img.VDSOBase || img.VDSOBase == 0 {
		t.Errorf("AT_SYSINFO_EHDR %#x, vDSO at %#x", aux[AT_SYSINFO_EHDR], img.VDSOBase)
	}

	// The vDSO image and its parameter page.
	got := make([]byte, len(vdso.Blob()))
	if _, err := m.CopyIn(img.VDSOBase, got); err != nil || !bytes.Equal(got, vdso.Blob()) {
		t.Errorf("vDSO image differs in memory (%v)", err)
	}
	var seq [4]byte
	if _, err := m.CopyIn(img.VDSOBase-usermem.PageSize, seq[:]); err != nil {
		t.Errorf("reading [vvar]: %v", err)
	}
	before := binary.LittleEndian.Uint32(seq[:])
	v.Update()
	m.CopyIn(img.VDSOBase-usermem.PageSize, seq[:])
	if after := binary.LittleEndian.Uint32(seq[:]); after != before+2 {
		t.Errorf("[vvar] seq %d -> %d: not shared with the sentry's page", before, after)
	}
	if _, err := m.CopyOut(img.VDSOBase-usermem.PageSize, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Errorf("writing [vvar]: %v, want EFAULT", err)
	}
	if err := m.MProtect(img.VDSOBase-usermem.PageSize, usermem.PageSize, usermem.ReadWrite, false); err == nil {
		t.Error("mprotect made [vvar] writable")
	}

	// Segments of the executable and the interpreter.
	for path, f := range fs.files {
		bias := img.LoadBias
		if path != exe {
			bias = img.InterpBase
		}
		info, err := parseELF(f, f.Size(), testMaxAddr, unix.ENOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range info.loads {
			got := make([]byte, ph.Filesz)
			if _, err := m.CopyIn(bias+ph.Vaddr, got); err != nil || !bytes.Equal(got, f.data[ph.Off:ph.Off+ph.Filesz]) {
				t.Errorf("%s: segment %#x differs (%v)", path, ph.Vaddr, err)
			}
			bss := make([]byte, ph.Memsz-ph.Filesz)
			if _, err := m.CopyIn(bias+ph.Vaddr+ph.Filesz, bss); err != nil || !bytes.Equal(bss, make([]byte, len(bss))) {
				t.Errorf("%s: bss at %#x not zero (%v)", path, ph.Vaddr+ph.Filesz, err)
			}
		}
		if f.holds == 0 {
			t.Errorf("%s: no vma holds the file", path)
		}
	}
}
