package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

const testMaxAddr = 1<<47 - usermem.PageSize

// buildELF returns an ELF file of size bytes (filled with a pattern) with
// the given program headers at offset 64.
func buildELF(typ uint16, entry uint64, phdrs []progHeader, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	le := binary.LittleEndian
	copy(b, []byte{0x7f, 'E', 'L', 'F', elfClass64, elfData2LSB, evCurrent})
	for i := 7; i < 16; i++ {
		b[i] = 0
	}
	le.PutUint16(b[16:], typ)
	le.PutUint16(b[18:], emX86_64)
	le.PutUint32(b[20:], evCurrent)
	le.PutUint64(b[24:], entry)
	le.PutUint64(b[32:], 64)
	le.PutUint64(b[40:], 0)
	le.PutUint32(b[48:], 0)
	le.PutUint16(b[52:], elfHeaderSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], uint16(len(phdrs)))
	le.PutUint16(b[58:], 0)
	le.PutUint16(b[60:], 0)
	le.PutUint16(b[62:], 0)
	for i, p := range phdrs {
		o := b[64+i*phdrSize:]
		le.PutUint32(o[0:], p.Type)
		le.PutUint32(o[4:], p.Flags)
		le.PutUint64(o[8:], p.Off)
		le.PutUint64(o[16:], p.Vaddr)
		le.PutUint64(o[24:], p.Vaddr)
		le.PutUint64(o[32:], p.Filesz)
		le.PutUint64(o[40:], p.Memsz)
		le.PutUint64(o[48:], p.A)
	}
	return b
}

// staticExe is a small valid ET_EXEC: headers+rodata, text, and a data
// segment whose bss spans pages.
func staticPhdrs() []progHeader {
	return []progHeader{
		{Type: ptLoad, Flags: pfR, Off: 0, Vaddr: 0x400000, Filesz: 0x1000, Memsz: 0x1000, A: 0x1000},
		{Type: ptLoad, Flags: pfR | pfX, Off: 0x1000, Vaddr: 0x401000, Filesz: 0x800, Memsz: 0x800, A: 0x1000},
		{Type: ptLoad, Flags: pfR | pfW, Off: 0x2100, Vaddr: 0x403100, Filesz: 0x200, Memsz: 0x3000, A: 0x1000},
		{Type: ptGNUStack, Flags: pfR | pfW},
	}
}

func staticExe() []byte { return buildELF(etExec, 0x401010, staticPhdrs(), 0x2400) }

func baseArgs(fs *fakeFS, m MemoryManager, name string) Args {
	return Args{
		Filename:       name,
		Argv:           []string{name, "arg1", ""},
		Envv:           []string{"A=1", "PATH=/bin"},
		Opener:         fs,
		MM:             m,
		MaxUserAddress: testMaxAddr,
		UID:            1, EUID: 2, GID: 3, EGID: 4,
		StackLimit: 8 << 20,
	}
}

// initialStack parses the stack at sp.
type initialStack struct {
	argv, envv []string
	auxv       map[uint64]uint64
	auxvOrder  []uint64
}

func readStack(t *testing.T, m *fakeMM, sp uint64) initialStack {
	t.Helper()
	word := func(a uint64) uint64 {
		b, err := m.read(a, 8)
		if err != nil {
			t.Fatalf("reading stack word at %#x: %v", a, err)
		}
		return binary.LittleEndian.Uint64(b)
	}
	str := func(a uint64) string {
		var s []byte
		for {
			b, err := m.read(a, 1)
			if err != nil {
				t.Fatalf("reading string at %#x: %v", a, err)
			}
			if b[0] == 0 {
				return string(s)
			}
			s = append(s, b[0])
			a++
		}
	}
	var st initialStack
	argc := word(sp)
	a := sp + 8
	for i := uint64(0); i < argc; i++ {
		st.argv = append(st.argv, str(word(a)))
		a += 8
	}
	if word(a) != 0 {
		t.Fatal("argv not NULL-terminated")
	}
	a += 8
	for word(a) != 0 {
		st.envv = append(st.envv, str(word(a)))
		a += 8
	}
	a += 8
	st.auxv = map[uint64]uint64{}
	for {
		k, v := word(a), word(a+8)
		a += 16
		if k == AT_NULL {
			break
		}
		if _, dup := st.auxv[k]; dup {
			t.Fatalf("auxv key %d twice", k)
		}
		st.auxv[k] = v
		st.auxvOrder = append(st.auxvOrder, k)
	}
	return st
}

func checkCommonStack(t *testing.T, m *fakeMM, img Image, argv, envv []string, execfn string) initialStack {
	t.Helper()
	if img.StackPointer%16 != 0 {
		t.Errorf("sp %#x not 16-aligned", img.StackPointer)
	}
	v := m.find(img.StackPointer)
	if v == nil || v.name != "[stack]" || !v.growsDown || !v.perms.Write {
		t.Fatalf("sp %#x not in a writable [stack] vma: %+v", img.StackPointer, v)
	}
	if v.end != img.StackTop || img.StackTop > testMaxAddr {
		t.Errorf("stack vma ends at %#x, StackTop %#x", v.end, img.StackTop)
	}
	st := readStack(t, m, img.StackPointer)
	if !equalStrings(st.argv, argv) || !equalStrings(st.envv, envv) {
		t.Errorf("argv %q envv %q, want %q %q", st.argv, st.envv, argv, envv)
	}
	b, _ := m.read(st.auxv[AT_EXECFN], len(execfn)+1)
	if string(b) != execfn+"\x00" {
		t.Errorf("AT_EXECFN points at %q", b)
	}
	b, _ = m.read(st.auxv[AT_PLATFORM], 7)
	if string(b) != "x86_64\x00" {
		t.Errorf("AT_PLATFORM points at %q", b)
	}
	if r, err := m.read(st.auxv[AT_RANDOM], 16); err != nil || bytes.Equal(r, make([]byte, 16)) {
		t.Errorf("AT_RANDOM bytes %x, %v", r, err)
	}
	for k, want := range map[uint64]uint64{AT_PAGESZ: 4096, AT_PHENT: 56, AT_CLKTCK: 100, AT_UID: 1, AT_EUID: 2, AT_GID: 3, AT_EGID: 4, AT_SECURE: 0, AT_FLAGS: 0, AT_HWCAP: hostHWCap()} {
		if got, ok := st.auxv[k]; !ok || got != want {
			t.Errorf("auxv[%d] = %#x (present %v), want %#x", k, got, ok, want)
		}
	}
	if st.auxv[AT_MINSIGSTKSZ] < 1024 {
		t.Errorf("AT_MINSIGSTKSZ %d", st.auxv[AT_MINSIGSTKSZ])
	}
	// The mm got the same auxv and the argv/env string ranges.
	if len(m.auxv) != 2*(len(st.auxv)+1) {
		t.Errorf("SetAuxv got %d words, stack has %d entries", len(m.auxv), len(st.auxv))
	}
	cmd, _ := m.read(m.argvStart, int(m.argvEnd-m.argvStart))
	if string(cmd) != strings.Join(argv, "\x00")+"\x00" {
		t.Errorf("argv range holds %q", cmd)
	}
	env, _ := m.read(m.envStart, int(m.envEnd-m.envStart))
	if string(env) != strings.Join(envv, "\x00")+"\x00" {
		t.Errorf("env range holds %q", env)
	}
	return st
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadStatic(t *testing.T) {
	for i := 0; i < 2; i++ {
		exe := staticExe()
		fs := &fakeFS{files: map[string][]byte{"/bin/prog": exe}}
		fm := newFakeMM(testMaxAddr)
		img, err := Load(baseArgs(fs, fm, "/bin/prog"))
		if err != nil {
			t.Fatal(err)
		}
		if img.Entry != 0x401010 || img.LoadBias != 0 || img.InterpBase != 0 {
			t.Errorf("entry %#x bias %#x interp %#x", img.Entry, img.LoadBias, img.InterpBase)
		}
		if img.Name != "prog" || img.Path != "/bin/prog" {
			t.Errorf("name %q path %q", img.Name, img.Path)
		}
		// Segments: perms and contents.
		for _, c := range []struct {
			addr uint64
			at   string
		}{{0x400000, "r--"}, {0x401000, "r-x"}, {0x403000, "rw-"}, {0x405000, "rw-"}} {
			v := fm.find(c.addr)
			if v == nil || v.perms.String() != c.at || !v.private {
				t.Errorf("vma at %#x: %+v, want %s private", c.addr, v, c.at)
			}
		}
		if fm.find(0x402000) != nil || fm.find(0x407000) != nil {
			t.Error("unexpected mapping in a hole")
		}
		got, _ := fm.read(0x401000, 0x800)
		if !bytes.Equal(got, exe[0x1000:0x1800]) {
			t.Error("text segment content differs from the file")
		}
		got, _ = fm.read(0x403100, 0x200)
		if !bytes.Equal(got, exe[0x2100:0x2300]) {
			t.Error("data segment content differs from the file")
		}
		bss, _ := fm.read(0x403300, 0x3100-0x300)
		if !bytes.Equal(bss, make([]byte, len(bss))) {
			t.Error("bss is not zero")
		}
		// brk: after the bss, page-aligned, within the random range.
		if img.BrkStart < 0x406000 || img.BrkStart >= 0x406000+brkRndRange || img.BrkStart%4096 != 0 || fm.brk != img.BrkStart {
			t.Errorf("brk %#x (mm %#x)", img.BrkStart, fm.brk)
		}
		st := checkCommonStack(t, fm, img, []string{"/bin/prog", "arg1", ""}, []string{"A=1", "PATH=/bin"}, "/bin/prog")
		if st.auxv[AT_ENTRY] != 0x401010 || st.auxv[AT_BASE] != 0 || st.auxv[AT_PHNUM] != 4 {
			t.Errorf("auxv entry %#x base %#x phnum %d", st.auxv[AT_ENTRY], st.auxv[AT_BASE], st.auxv[AT_PHNUM])
		}
		// The phdrs are in the first segment at 0x400040.
		if st.auxv[AT_PHDR] != 0x400040 {
			t.Errorf("AT_PHDR %#x", st.auxv[AT_PHDR])
		}
		if _, ok := st.auxv[AT_SYSINFO_EHDR]; ok {
			t.Error("AT_SYSINFO_EHDR without a vDSO")
		}
		if img.MMapBase != fm.mmapBase {
			t.Errorf("mmap base %#x not set in mm (%#x)", img.MMapBase, fm.mmapBase)
		}
		if img.MMapBase+minGap > img.StackTop {
			t.Errorf("mmap base %#x too close to the stack top %#x", img.MMapBase, img.StackTop)
		}
		if fs.open != fs.released {
			t.Errorf("opened %d files, released %d", fs.open, fs.released)
		}
	}
}

func TestLoadBSSTailOfReadOnlySegment(t *testing.T) {
	// A read-only segment with p_memsz > p_filesz: the rest of its last
	// file page is zeroed all the same.
	ph := []progHeader{{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0x400000, Filesz: 0x1100, Memsz: 0x1800}}
	exe := buildELF(etExec, 0x400100, ph, 0x3000)
	fs := &fakeFS{files: map[string][]byte{"/p": exe}}
	fm := newFakeMM(testMaxAddr)
	if _, err := Load(baseArgs(fs, fm, "/p")); err != nil {
		t.Fatal(err)
	}
	got, _ := fm.read(0x401100, 0xf00)
	if !bytes.Equal(got, make([]byte, 0xf00)) {
		t.Error("file bytes past p_filesz are visible")
	}
	got, _ = fm.read(0x400000, 0x1100)
	if !bytes.Equal(got, exe[:0x1100]) {
		t.Error("segment content differs")
	}
}

func TestLoadStaticPIE(t *testing.T) {
	ph := []progHeader{
		{Type: ptPhdr, Flags: pfR, Off: 64, Vaddr: 64, Filesz: 3 * phdrSize, Memsz: 3 * phdrSize},
		{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1800, Memsz: 0x1800, A: 0x200000},
		{Type: ptLoad, Flags: pfR | pfW, Off: 0x1800, Vaddr: 0x2800, Filesz: 0x100, Memsz: 0x100, A: 0x1000},
	}
	exe := buildELF(etDyn, 0x1000, ph, 0x2000)
	for i := 0; i < 4; i++ {
		fs := &fakeFS{files: map[string][]byte{"/pie": exe}}
		fm := newFakeMM(testMaxAddr)
		img, err := Load(baseArgs(fs, fm, "/pie"))
		if err != nil {
			t.Fatal(err)
		}
		lo := usermem.PageRoundDown(testMaxAddr / 3 * 2)
		if img.LoadBias < lo-0x200000 || img.LoadBias > lo+mmapRndPages<<12 || img.LoadBias%0x200000 != 0 {
			t.Errorf("static-PIE bias %#x outside ELF_ET_DYN_BASE's range or not 2 MiB aligned", img.LoadBias)
		}
		if img.Entry != img.LoadBias+0x1000 {
			t.Errorf("entry %#x bias %#x", img.Entry, img.LoadBias)
		}
		st := readStack(t, fm, img.StackPointer)
		if st.auxv[AT_PHDR] != img.LoadBias+64 || st.auxv[AT_ENTRY] != img.Entry {
			t.Errorf("AT_PHDR %#x AT_ENTRY %#x", st.auxv[AT_PHDR], st.auxv[AT_ENTRY])
		}
		got, _ := fm.read(img.LoadBias+0x2800, 0x100)
		if !bytes.Equal(got, exe[0x1800:0x1900]) {
			t.Error("data segment content")
		}
	}
}

func TestLoadNoRandomizeIsDeterministic(t *testing.T) {
	ph := []progHeader{{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000}}
	exe := buildELF(etDyn, 0x100, ph, 0x1000)
	var imgs []Image
	for i := 0; i < 2; i++ {
		fs := &fakeFS{files: map[string][]byte{"/pie": exe}}
		a := baseArgs(fs, newFakeMM(testMaxAddr), "/pie")
		a.NoRandomize = true
		img, err := Load(a)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	if imgs[0].LoadBias != imgs[1].LoadBias || imgs[0].StackPointer != imgs[1].StackPointer || imgs[0].StackTop != testMaxAddr {
		t.Errorf("not deterministic: %+v %+v", imgs[0], imgs[1])
	}
}

func TestLoadDynamicSynthetic(t *testing.T) {
	interpPath := "/lib/ld.so"
	interpBytes := append([]byte(interpPath), 0)
	ph := []progHeader{
		{Type: ptInterp, Flags: pfR, Off: 0x300, Vaddr: 0x300, Filesz: uint64(len(interpBytes)), Memsz: uint64(len(interpBytes))},
		{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000},
	}
	exe := buildELF(etDyn, 0x500, ph, 0x1000)
	copy(exe[0x300:], interpBytes)
	ldph := []progHeader{
		{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000},
		// A hole of two pages, then data with bss.
		{Type: ptLoad, Flags: pfR | pfW, Off: 0x1000, Vaddr: 0x3000, Filesz: 0x10, Memsz: 0x2000},
	}
	ld := buildELF(etDyn, 0x80, ldph, 0x1100)
	fs := &fakeFS{files: map[string][]byte{"/bin/dyn": exe, interpPath: ld}}
	fm := newFakeMM(testMaxAddr)
	img, err := Load(baseArgs(fs, fm, "/bin/dyn"))
	if err != nil {
		t.Fatal(err)
	}
	if img.InterpBase == 0 || img.Entry != img.InterpBase+0x80 {
		t.Errorf("entry %#x interp base %#x", img.Entry, img.InterpBase)
	}
	if fm.find(img.InterpBase+0x1000) != nil || fm.find(img.InterpBase+0x2000) != nil {
		t.Error("hole in the interpreter's reservation still mapped")
	}
	if v := fm.find(img.InterpBase + 0x4000); v == nil || !v.perms.Write {
		t.Error("interpreter bss not mapped writable")
	}
	if fm.find(img.InterpBase+0x5000) != nil {
		t.Error("interpreter reservation tail still mapped")
	}
	st := readStack(t, fm, img.StackPointer)
	if st.auxv[AT_BASE] != img.InterpBase || st.auxv[AT_ENTRY] != img.LoadBias+0x500 {
		t.Errorf("AT_BASE %#x AT_ENTRY %#x", st.auxv[AT_BASE], st.auxv[AT_ENTRY])
	}
	if img.BrkStart < img.LoadBias+0x1000 || img.BrkStart > img.LoadBias+0x1000+brkRndRange {
		t.Errorf("brk %#x not after the executable at %#x", img.BrkStart, img.LoadBias)
	}
	// The interpreter must be ELF.
	fs.files[interpPath] = []byte("#!/bin/sh\n")
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/bin/dyn")); !errors.Is(err, unix.ELIBBAD) {
		t.Errorf("script as ELF interpreter: %v, want ELIBBAD", err)
	}
	delete(fs.files, interpPath)
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/bin/dyn")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing ELF interpreter: %v, want ENOENT", err)
	}
}

func TestHostileELF(t *testing.T) {
	le := binary.LittleEndian
	phOff := func(i int) int { return 64 + i*phdrSize }
	for _, c := range []struct {
		name  string
		mut   func(b []byte) []byte
		errno unix.Errno
	}{
		{"truncated header", func(b []byte) []byte { return b[:40] }, unix.ENOEXEC},
		{"32-bit class", func(b []byte) []byte { b[4] = 1; return b }, unix.ENOEXEC},
		{"big endian", func(b []byte) []byte { b[5] = 2; return b }, unix.ENOEXEC},
		{"bad ident version", func(b []byte) []byte { b[6] = 9; return b }, unix.ENOEXEC},
		{"wrong machine", func(b []byte) []byte { le.PutUint16(b[18:], 183); return b }, unix.ENOEXEC},
		{"ET_REL", func(b []byte) []byte { le.PutUint16(b[16:], 1); return b }, unix.ENOEXEC},
		{"ET_CORE", func(b []byte) []byte { le.PutUint16(b[16:], 4); return b }, unix.ENOEXEC},
		{"bad phentsize", func(b []byte) []byte { le.PutUint16(b[54:], 32); return b }, unix.ENOEXEC},
		{"zero phnum", func(b []byte) []byte { le.PutUint16(b[56:], 0); return b }, unix.ENOEXEC},
		{"huge phnum", func(b []byte) []byte { le.PutUint16(b[56:], 0xffff); return b }, unix.ENOEXEC},
		{"phdrs past EOF", func(b []byte) []byte { le.PutUint64(b[32:], uint64(len(b))-10); return b }, unix.ENOEXEC},
		{"phoff overflow", func(b []byte) []byte { le.PutUint64(b[32:], ^uint64(0)-20); return b }, unix.ENOEXEC},
		{"filesz > memsz", func(b []byte) []byte { le.PutUint64(b[phOff(1)+32:], 0x900); return b }, unix.ENOEXEC},
		{"segment past EOF", func(b []byte) []byte { le.PutUint64(b[phOff(2)+8:], 0x2300); return b[:0x2400] }, unix.ENOEXEC},
		{"offset overflow", func(b []byte) []byte { le.PutUint64(b[phOff(2)+8:], ^uint64(0)-0x100); return b }, unix.ENOEXEC},
		{"huge memsz", func(b []byte) []byte { le.PutUint64(b[phOff(2)+40:], 1<<62); return b }, unix.ENOMEM},
		{"vaddr+memsz overflow", func(b []byte) []byte {
			le.PutUint64(b[phOff(2)+16:], ^uint64(0)-0xeff)
			le.PutUint64(b[phOff(2)+8:], 0x100)
			return b
		}, unix.ENOMEM},
		{"segment past the address space", func(b []byte) []byte {
			le.PutUint64(b[phOff(2)+16:], testMaxAddr-0x1000+0x100)
			return b
		}, unix.ENOMEM},
		{"segment in the stack area", func(b []byte) []byte {
			le.PutUint64(b[phOff(2)+16:], testMaxAddr-0x10000+0x100)
			return b
		}, unix.ENOMEM},
		{"vaddr/offset misaligned", func(b []byte) []byte { le.PutUint64(b[phOff(2)+16:], 0x403180); return b }, unix.EINVAL},
		{"overlapping segments", func(b []byte) []byte { le.PutUint64(b[phOff(1)+40:], 0x2200); return b }, unix.ENOEXEC},
		{"unsorted segments", func(b []byte) []byte {
			s1 := append([]byte(nil), b[phOff(1):phOff(2)]...)
			copy(b[phOff(1):], b[phOff(2):phOff(3)])
			copy(b[phOff(2):], s1)
			return b
		}, unix.ENOEXEC},
		{"no PT_LOAD", func(b []byte) []byte {
			for i := 0; i < 3; i++ {
				le.PutUint32(b[phOff(i):], 4) // PT_NOTE
			}
			return b
		}, unix.ENOEXEC},
		{"entry outside the image", func(b []byte) []byte { le.PutUint64(b[24:], 0x10); return b }, unix.ENOEXEC},
	} {
		t.Run(c.name, func(t *testing.T) {
			exe := c.mut(staticExe())
			fs := &fakeFS{files: map[string][]byte{"/x": exe}}
			_, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/x"))
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, c.errno) || Errno(err) != c.errno {
				t.Fatalf("error %v (errno %v), want %v", err, Errno(err), c.errno)
			}
			t.Log(err)
		})
	}
}

func TestHostileInterp(t *testing.T) {
	mk := func(interp []byte, filesz uint64) []byte {
		ph := []progHeader{
			{Type: ptInterp, Off: 0x200, Vaddr: 0x200, Filesz: filesz, Memsz: filesz},
			{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000},
		}
		size := 0x1000
		if int(0x200+filesz) > size && filesz < 1<<20 {
			size = int(0x200 + filesz)
		}
		b := buildELF(etDyn, 0x100, ph, size)
		copy(b[0x200:], interp)
		return b
	}
	long := append(bytes.Repeat([]byte("a"), 5000), 0)
	for _, c := range []struct {
		name string
		exe  []byte
	}{
		{"not NUL-terminated", mk([]byte("/lib/ld.so"), 10)},
		{"too long", mk(long, uint64(len(long)))},
		{"too short", mk([]byte{0}, 1)},
		{"empty", mk([]byte{0, 0}, 2)},
		{"past EOF", mk([]byte("/x\x00"), 1<<40)},
	} {
		fs := &fakeFS{files: map[string][]byte{"/x": c.exe}}
		_, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/x"))
		if !errors.Is(err, unix.ENOEXEC) {
			t.Errorf("%s: %v, want ENOEXEC", c.name, err)
		}
	}
	// A NUL inside is accepted: the name ends there.
	fs := &fakeFS{files: map[string][]byte{"/x": mk([]byte("/ld\x00junk\x00"), 9)}}
	_, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/x"))
	if !errors.Is(err, unix.ENOENT) || fs.opened[len(fs.opened)-1] != "/ld" {
		t.Errorf("interp with inner NUL: %v, opened %q", err, fs.opened)
	}
}

func TestNotExecutable(t *testing.T) {
	fs := &fakeFS{files: map[string][]byte{"/data": []byte("hello world"), "/empty": {}}}
	for _, name := range []string{"/data", "/empty"} {
		if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), name)); !errors.Is(err, unix.ENOEXEC) {
			t.Errorf("%s: %v, want ENOEXEC", name, err)
		}
	}
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/missing")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing: %v", err)
	}
	if fs.open != fs.released {
		t.Errorf("opened %d released %d", fs.open, fs.released)
	}
}

func TestMMapFailure(t *testing.T) {
	for n := 1; n <= 4; n++ {
		fs := &fakeFS{files: map[string][]byte{"/p": staticExe()}}
		fm := newFakeMM(testMaxAddr)
		fm.failMMapAfter = n
		_, err := Load(baseArgs(fs, fm, "/p"))
		if !errors.Is(err, unix.ENOMEM) {
			t.Errorf("MMap %d failing: %v, want ENOMEM", n, err)
		}
	}
}

func TestScripts(t *testing.T) {
	exe := staticExe()
	fs := &fakeFS{files: map[string][]byte{
		"/bin/interp": exe,
		"/s1":         []byte("#! /bin/interp  -x  y \t\nbody"),
		"/s2":         []byte("#!/s1\n"),
		"/noarg":      []byte("#!/bin/interp"),
		"/blank":      []byte("#!   \n"),
		"/notfound":   []byte("#!/nope\n"),
	}}
	fm := newFakeMM(testMaxAddr)
	a := baseArgs(fs, fm, "/s1")
	a.Argv = []string{"myname", "a", "b"}
	img, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/bin/interp", "-x  y", "/s1", "a", "b"}
	checkCommonStack(t, fm, img, want, a.Envv, "/s1")
	if img.Path != "/bin/interp" || img.Name != "s1" {
		t.Errorf("path %q name %q", img.Path, img.Name)
	}

	// Nested: /s2 -> /s1 -> /bin/interp.
	fm = newFakeMM(testMaxAddr)
	a = baseArgs(fs, fm, "/s2")
	a.Argv = []string{"s2", "q"}
	img, err = Load(a)
	if err != nil {
		t.Fatal(err)
	}
	checkCommonStack(t, fm, img, []string{"/bin/interp", "-x  y", "/s1", "/s2", "q"}, a.Envv, "/s2")

	fm = newFakeMM(testMaxAddr)
	a = baseArgs(fs, fm, "/noarg")
	a.Argv = nil // becomes {""}
	img, err = Load(a)
	if err != nil {
		t.Fatal(err)
	}
	checkCommonStack(t, fm, img, []string{"/bin/interp", "/noarg"}, a.Envv, "/noarg")

	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/blank")); !errors.Is(err, unix.ENOEXEC) {
		t.Errorf("blank #!: %v", err)
	}
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/notfound")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing interpreter: %v", err)
	}
	if fs.open != fs.released {
		t.Errorf("opened %d released %d", fs.open, fs.released)
	}
}

func TestScriptRecursionLimit(t *testing.T) {
	files := map[string][]byte{"/elf": staticExe()}
	// /c0 -> /c1 -> ... -> /cN -> /elf.
	chain := func(n int) {
		for i := 0; i < n; i++ {
			next := "/elf"
			if i+1 < n {
				next = "/c" + string(rune('0'+i+1))
			}
			files["/c"+string(rune('0'+i))] = []byte("#!" + next + "\n")
		}
	}
	chain(maxScriptDepth)
	fs := &fakeFS{files: files}
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/c0")); err != nil {
		t.Errorf("%d levels of scripts: %v", maxScriptDepth, err)
	}
	chain(maxScriptDepth + 1)
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/c0")); !errors.Is(err, unix.ELOOP) {
		t.Errorf("%d levels of scripts: %v, want ELOOP", maxScriptDepth+1, err)
	}
	files["/self"] = []byte("#!/self\n")
	if _, err := Load(baseArgs(fs, newFakeMM(testMaxAddr), "/self")); !errors.Is(err, unix.ELOOP) {
		t.Errorf("self-interpreting script: %v, want ELOOP", err)
	}
	if fs.open != fs.released {
		t.Errorf("opened %d released %d", fs.open, fs.released)
	}
}

func TestParseScript(t *testing.T) {
	long := "#!" + strings.Repeat("x", 300)
	longWithSpace := "#!/bin/sh " + strings.Repeat("y", 300)
	for _, c := range []struct {
		in, interp, arg string
		hasArg, ok      bool
	}{
		{"#!/bin/sh\n", "/bin/sh", "", false, true},
		{"#!/bin/sh", "/bin/sh", "", false, true},
		{"#! \t/bin/sh \t\n", "/bin/sh", "", false, true},
		{"#!/usr/bin/env python3 -u\n", "/usr/bin/env", "python3 -u", true, true},
		{"#!/bin/sh -e   \r\n", "/bin/sh", "-e   \r", true, true},
		{"#!/bin/sh\t-x\n", "/bin/sh", "-x", true, true},
		{"#!/bin/sh\x00junk\n", "/bin/sh", "", false, true},
		{"#!/bin/sh \x00junk\n", "/bin/sh", "", true, true},
		{"#!\n", "", "", false, false},
		{"#!   \t\n", "", "", false, false},
		{long, "", "", false, false},
		{longWithSpace, "/bin/sh", strings.Repeat("y", 256-11), true, true},
		{"no", "", "", false, false},
	} {
		interp, arg, hasArg, err := parseScript([]byte(c.in))
		if (err == nil) != c.ok || interp != c.interp || arg != c.arg || hasArg != c.hasArg {
			t.Errorf("parseScript(%q) = %q, %q, %v, %v; want %q, %q, %v, ok=%v", c.in, interp, arg, hasArg, err, c.interp, c.arg, c.hasArg, c.ok)
		}
	}
}

func TestBuildStackLayout(t *testing.T) {
	for pad := uint64(0); pad < 40; pad++ {
		for nargs := 0; nargs < 4; nargs++ {
			argv := make([]string, nargs)
			for i := range argv {
				argv[i] = strings.Repeat("a", i+int(pad%5))
			}
			in := stackInput{
				top:    0x7fff0000,
				argv:   argv,
				envv:   []string{"E=1"},
				execfn: "/x",
				auxv:   []auxEntry{{AT_PAGESZ, 4096}, {AT_RANDOM, 0}, {AT_EXECFN, 0}, {AT_PLATFORM, 0}},
				pad:    pad,
			}
			in.random[0] = 0xaa
			l := buildStack(in)
			if l.sp%16 != 0 || l.sp+uint64(len(l.buf)) != in.top {
				t.Fatalf("sp %#x len %d", l.sp, len(l.buf))
			}
			le := binary.LittleEndian
			w := func(a uint64) uint64 { return le.Uint64(l.buf[a-l.sp:]) }
			if w(l.sp) != uint64(nargs) {
				t.Fatalf("argc %d", w(l.sp))
			}
			// auxv directly follows envp's NULL.
			auxAt := l.sp + 8*uint64(1+nargs+1+1+1)
			if w(auxAt) != AT_PAGESZ || w(auxAt+8) != 4096 {
				t.Fatalf("auxv not after envp")
			}
			rnd := w(auxAt + 24)
			if l.buf[rnd-l.sp] != 0xaa {
				t.Fatalf("AT_RANDOM points to %#x", l.buf[rnd-l.sp])
			}
			// Strings: execfn then the NULL word at the very top.
			if string(l.buf[len(l.buf)-8-3:]) != "/x\x00"+"\x00\x00\x00\x00\x00\x00\x00\x00" {
				t.Fatalf("top of stack %q", l.buf[len(l.buf)-11:])
			}
			if l.envEnd != in.top-8-3 || l.argvEnd != l.envStart {
				t.Fatalf("ranges %+v", l)
			}
			// Platform string below the 16-aligned string area.
			plat := w(auxAt + 56)
			if string(l.buf[plat-l.sp:plat-l.sp+7]) != "x86_64\x00" || (plat+7)%16 != 0 || plat+7 > l.argvStart-pad {
				t.Fatalf("platform at %#x", plat)
			}
		}
	}
}

func TestArgLimits(t *testing.T) {
	big := strings.Repeat("x", maxArgStrLen)
	if err := checkArgs([]string{big}, nil, "/x", 8<<20); !errors.Is(err, unix.E2BIG) {
		t.Errorf("string of MAX_ARG_STRLEN: %v", err)
	}
	if err := checkArgs([]string{big[:maxArgStrLen-1]}, nil, "/x", 8<<20); err != nil {
		t.Errorf("string of MAX_ARG_STRLEN-1: %v", err)
	}
	many := make([]string, 250)
	for i := range many {
		many[i] = big[:10000]
	}
	if err := checkArgs(many, nil, "/x", 8<<20); !errors.Is(err, unix.E2BIG) {
		t.Errorf("2 MB of arguments with an 8 MB stack: %v", err)
	}
	if err := checkArgs(many, nil, "/x", 64<<20); err != nil {
		t.Errorf("2 MB of arguments with a 64 MB stack: %v", err)
	}
	fs := &fakeFS{files: map[string][]byte{"/p": staticExe()}}
	a := baseArgs(fs, newFakeMM(testMaxAddr), "/p")
	a.Envv = many
	if _, err := Load(a); !errors.Is(err, unix.E2BIG) {
		t.Errorf("Load with huge env: %v", err)
	}
}

// hostFS opens host files, for loading real binaries into the fake mm.
func loadHost(t *testing.T, path string, m *fakeMM) (Image, *fakeFS) {
	t.Helper()
	fs := &fakeFS{host: true}
	a := baseArgs(fs, m, path)
	a.Argv = []string{path}
	img, err := Load(a)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return img, fs
}

// checkSegments verifies every PT_LOAD of the ELF file at path is in m at
// bias with the file's bytes and zeroed bss.
func checkSegments(t *testing.T, m *fakeMM, path string, bias uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		got, err := m.read(bias+p.Vaddr, int(p.Filesz))
		if err != nil || !bytes.Equal(got, data[p.Off:p.Off+p.Filesz]) {
			t.Errorf("%s: segment at %#x differs from the file (%v)", path, p.Vaddr, err)
		}
		bss, err := m.read(bias+p.Vaddr+p.Filesz, int(p.Memsz-p.Filesz))
		if err != nil || !bytes.Equal(bss, make([]byte, len(bss))) {
			t.Errorf("%s: bss at %#x not zero (%v)", path, p.Vaddr+p.Filesz, err)
		}
		v := m.find(bias + p.Vaddr)
		at := v.perms
		if at.Write != (p.Flags&elf.PF_W != 0) || at.Execute != (p.Flags&elf.PF_X != 0) {
			t.Errorf("%s: segment at %#x perms %s, flags %v", path, p.Vaddr, at, p.Flags)
		}
	}
}

func TestLoadHostDynamic(t *testing.T) {
	const exe = "/bin/true"
	if _, err := os.Stat(exe); err != nil {
		t.Skip(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	f.Close()
	if interp == "" {
		t.Skip("/bin/true is not dynamically linked")
	}
	fm := newFakeMM(testMaxAddr)
	img, fs := loadHost(t, exe, fm)
	ld, err := elf.Open(interp)
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Close()
	if img.Entry != img.InterpBase+ld.Entry {
		t.Errorf("entry %#x, want interpreter's %#x + %#x", img.Entry, img.InterpBase, ld.Entry)
	}
	if img.InterpBase%4096 != 0 || img.InterpBase >= img.MMapBase {
		t.Errorf("interpreter base %#x (mmap base %#x)", img.InterpBase, img.MMapBase)
	}
	st := checkCommonStack(t, fm, img, []string{exe}, []string{"A=1", "PATH=/bin"}, exe)
	// AT_PHDR points at the program headers in memory.
	phdrs, err := fm.read(st.auxv[AT_PHDR], int(st.auxv[AT_PHNUM])*phdrSize)
	data, _ := os.ReadFile(exe)
	phoff := binary.LittleEndian.Uint64(data[32:])
	if err != nil || !bytes.Equal(phdrs, data[phoff:phoff+uint64(len(phdrs))]) {
		t.Errorf("AT_PHDR %#x does not point at the program headers (%v)", st.auxv[AT_PHDR], err)
	}
	checkSegments(t, fm, exe, img.LoadBias)
	checkSegments(t, fm, interp, img.InterpBase)
	if !equalStrings(fs.opened, []string{exe, interp}) {
		t.Errorf("opened %q", fs.opened)
	}
	order := []uint64{AT_MINSIGSTKSZ, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_PLATFORM}
	if !equalU64(st.auxvOrder, order) {
		t.Errorf("auxv order %v, want Linux's %v", st.auxvOrder, order)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadGCCStatic(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int x[10000]; int main(void){return x[5];}\n"), 0o644)
	for _, flag := range []string{"-static", "-static-pie"} {
		out := filepath.Join(dir, "p"+flag)
		if o, err := exec.Command("gcc", flag, "-O1", "-o", out, src).CombinedOutput(); err != nil {
			t.Logf("gcc %s unavailable: %v %s", flag, err, o)
			continue
		}
		fm := newFakeMM(testMaxAddr)
		img, _ := loadHost(t, out, fm)
		f, _ := elf.Open(out)
		if img.Entry != img.LoadBias+f.Entry || img.InterpBase != 0 {
			t.Errorf("%s: entry %#x bias %#x interp %#x", flag, img.Entry, img.LoadBias, img.InterpBase)
		}
		if (f.Type == elf.ET_DYN) != (img.LoadBias != 0) {
			t.Errorf("%s: type %v bias %#x", flag, f.Type, img.LoadBias)
		}
		f.Close()
		checkSegments(t, fm, out, img.LoadBias)
		checkCommonStack(t, fm, img, []string{out}, []string{"A=1", "PATH=/bin"}, out)
	}
}
