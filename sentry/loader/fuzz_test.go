package loader

import (
	"testing"

	"golang.org/x/sys/unix"
)

// execErrnos are the errors execve(2) may return for what is in the
// files themselves (the names in them, their contents); anything else
// from Load is a bug.
var execErrnos = []unix.Errno{
	unix.ENOEXEC, unix.EINVAL, unix.ENOMEM, unix.ENOENT, unix.ELOOP,
	unix.ELIBBAD, unix.E2BIG, unix.EIO, unix.EACCES, unix.ENAMETOOLONG,
}

// fuzzInterp is the ELF interpreter the fuzzed files may name (a script's
// #! line, an ELF's PT_INTERP): what is there is fuzzed too.
const fuzzInterp = "/lib/ld.so"

// FuzzLoad loads an executable and an interpreter of any content, as an
// application that writes them and calls execve can: Load must never
// panic; it must fail with one of exec's errnos or return an image whose
// entry, stack and break lie in the address space, with a stack that
// holds argv and envp; and every file it opened must be released either
// way. `make fuzz` (test/e2e/fuzz.sh) fuzzes it for a while; plain `go
// test` runs the seeds (a static and a dynamic program, a script, and a
// script whose interpreter is a script) and what testdata/fuzz holds.
func FuzzLoad(f *testing.F) {
	interp := append([]byte(fuzzInterp), 0)
	dyn := buildELF(etDyn, 0x500, []progHeader{
		{Type: ptInterp, Flags: pfR, Off: 0x300, Vaddr: 0x300, Filesz: uint64(len(interp)), Memsz: uint64(len(interp))},
		{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000},
		{Type: ptGNUStack, Flags: pfR | pfW},
	}, 0x1000)
	copy(dyn[0x300:], interp)
	ld := buildELF(etDyn, 0x80, []progHeader{
		{Type: ptLoad, Flags: pfR | pfX, Off: 0, Vaddr: 0, Filesz: 0x1000, Memsz: 0x1000},
		{Type: ptLoad, Flags: pfR | pfW, Off: 0x1000, Vaddr: 0x3000, Filesz: 0x10, Memsz: 0x2000},
	}, 0x1100)
	f.Add(staticExe(), []byte(nil))
	f.Add(dyn, ld)
	f.Add([]byte("#! "+fuzzInterp+" -x y\nbody"), staticExe())
	f.Add([]byte("#!"+fuzzInterp+"\n"), []byte("#!/x\n"))
	f.Fuzz(func(t *testing.T, exe, interp []byte) {
		fs := &fakeFS{files: map[string][]byte{"/x": exe, fuzzInterp: interp}}
		m := newFakeMM(testMaxAddr)
		a := baseArgs(fs, m, "/x")
		img, err := Load(a)
		if fs.open != fs.released {
			t.Fatalf("opened %d files, released %d (%v)", fs.open, fs.released, err)
		}
		if err != nil {
			errno := Errno(err)
			for _, e := range execErrnos {
				if errno == e {
					return
				}
			}
			t.Fatalf("error %v: errno %v is not exec's", err, errno)
		}
		if img.Entry >= testMaxAddr || img.BrkStart >= testMaxAddr || img.StackPointer >= img.StackTop || img.StackTop > testMaxAddr {
			t.Fatalf("image outside the address space: entry %#x brk %#x sp %#x stack top %#x", img.Entry, img.BrkStart, img.StackPointer, img.StackTop)
		}
		if img.StackPointer%16 != 0 {
			t.Fatalf("stack pointer %#x not 16-byte aligned", img.StackPointer)
		}
		if v := m.find(img.StackPointer); v == nil || !v.perms.Write {
			t.Fatalf("stack pointer %#x not in writable memory", img.StackPointer)
		}
		st := readStack(t, m, img.StackPointer)
		if !equalStrings(st.argv, img.Argv) || !equalStrings(st.envv, a.Envv) {
			t.Fatalf("stack argv %q envv %q, want %q %q", st.argv, st.envv, img.Argv, a.Envv)
		}
	})
}
