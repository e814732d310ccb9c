package mm

import (
	"bytes"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

func TestGrowsDownStack(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	top := uint64(0x7ff000000000)
	o := anonOpts(4 * pg)
	o.Fixed, o.Unmap, o.Addr, o.GrowsDown, o.Name = true, true, top-4*pg, true, "[stack]"
	s := mustMMap(t, m, o)
	// Just below: grows.
	if sig, _, _, _ := appAccess(m, e.mf, s-8, true, 1); sig != 0 {
		t.Fatalf("growth fault: %d", sig)
	}
	m.mu.RLock()
	if v := m.findVMALocked(s - 8); v == nil || v.start != s-pg || v.end != top {
		t.Fatal("stack vma did not grow by one page")
	}
	m.mu.RUnlock()
	// Far below, within the limit: grows too (Linux no longer checks rsp).
	if sig, _, _, _ := appAccess(m, e.mf, top-(1<<20), true, 1); sig != 0 {
		t.Fatalf("growth by 1 MiB: %d", sig)
	}
	// CopyOut grows it as well.
	if _, err := m.CopyOut(top-(2<<20), []byte{1}); err != nil {
		t.Fatalf("CopyOut below the stack: %v", err)
	}
	// Beyond RLIMIT_STACK: SIGSEGV.
	if sig, code, _, _ := appAccess(m, e.mf, top-(8<<20)-pg, true, 1); sig != int32(unix.SIGSEGV) || code != segvMapErr {
		t.Errorf("beyond the stack limit: %d/%d", sig, code)
	}
	m.SetStackLimit(16 << 20)
	if sig, _, _, _ := appAccess(m, e.mf, top-(8<<20)-pg, true, 1); sig != 0 {
		t.Errorf("after raising the limit: %d", sig)
	}
	// The guard gap: a mapping just below stops growth.
	o = anonOpts(pg)
	o.Fixed, o.Unmap, o.Addr = true, true, top-(12<<20)
	mustMMap(t, m, o)
	if sig, _, _, _ := appAccess(m, e.mf, top-(12<<20)+pg+stackGuardGap/2, true, 1); sig == 0 {
		t.Error("stack grew into the guard gap")
	}
	// mmap placement keeps the guard gap.
	m.mu.RLock()
	st := m.findVMALocked(top - pg).start
	m.mu.RUnlock()
	m.SetMMapBase(st)
	if a := mustMMap(t, m, anonOpts(pg)); a+pg > st-stackGuardGap {
		t.Errorf("mapping at %#x inside the guard gap of the stack at %#x", a, st)
	}
	if !strings.Contains(m.MapsText(), "[stack]") {
		t.Error("no [stack] in maps")
	}
	checkInvariants(t, m)
}

func TestFaultAroundBounded(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	const size = 256 << 20
	a := mustMMap(t, m, anonOpts(size))
	faults := 0
	for off := uint64(0); off < size; off += pg {
		sig, _, n, _ := appAccess(m, e.mf, a+off, true, 1)
		if sig != 0 {
			t.Fatalf("fault at %#x: %d", a+off, sig)
		}
		faults += n
	}
	if faults > size/anonFaultWindow+2 {
		t.Errorf("touching 256 MiB took %d faults", faults)
	}
	t.Logf("256 MiB: %d faults, %d MapFile calls", faults, fas(m).mapCount())

	// File pages: a window per fault, too.
	data := make([]byte, 4<<20)
	f := newFakeFile(t, e.mf, data)
	f.maxChunk = 1 << 30
	fa := mustMMap(t, m, MMapOpts{Length: 4 << 20, Private: true, Perms: usermem.Read, MaxPerms: usermem.AnyAccess, Mappable: f})
	faults = 0
	for off := uint64(0); off < 4<<20; off += pg {
		_, _, n, _ := appAccess(m, e.mf, fa+off, false, 0)
		faults += n
	}
	if faults > (4<<20)/fileFaultWindow+2 {
		t.Errorf("reading a 4 MiB file took %d faults", faults)
	}
	releaseAll(t, e, m, f)
}

func TestCopyEFAULT(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	o := anonOpts(2 * pg)
	o.Fixed, o.Unmap, o.Addr = true, true, 0x40000000
	a := mustMMap(t, m, o)
	o.Addr = a + 3*pg // hole at a+2pg
	mustMMap(t, m, o)
	ro := anonOpts(pg)
	ro.Fixed, ro.Unmap, ro.Addr, ro.Perms = true, true, 0x50000000, usermem.Read
	r := mustMMap(t, m, ro)

	buf := make([]byte, 4*pg)
	if n, err := m.CopyIn(0x30000000, buf); n != 0 || err != unix.EFAULT {
		t.Errorf("unmapped CopyIn: %d %v", n, err)
	}
	if n, err := m.CopyOut(a+pg+100, buf); n != pg-100 || err != unix.EFAULT {
		t.Errorf("CopyOut across hole: %d %v", n, err)
	}
	if n, err := m.CopyIn(a+10, buf[:2*pg]); n != 2*pg-10 || err != unix.EFAULT {
		t.Errorf("CopyIn across hole: %d %v", n, err)
	}
	if n, err := m.CopyOut(r, []byte{1}); n != 0 || err != unix.EFAULT {
		t.Errorf("CopyOut to read-only: %d %v", n, err)
	}
	if n, err := m.ZeroOut(r, 1); n != 0 || err != unix.EFAULT {
		t.Errorf("ZeroOut to read-only: %d %v", n, err)
	}
	// Force variants write private read-only memory.
	if n, err := m.CopyOutForce(r+5, []byte{0xee}); n != 1 || err != nil {
		t.Errorf("CopyOutForce: %d %v", n, err)
	}
	var b [1]byte
	if _, err := m.CopyIn(r+5, b[:]); err != nil || b[0] != 0xee {
		t.Errorf("read back forced write: %v %x", err, b[0])
	}
	if n, err := m.ZeroOutForce(r+5, 1); n != 1 || err != nil {
		t.Errorf("ZeroOutForce: %d %v", n, err)
	}
	if pm, ok := fas(m).lookup(r); ok && pm.perms.Write {
		t.Error("forced write made the page writable in the AddressSpace")
	}
	// PROT_NONE: CopyIn fails, CopyInForce works.
	m.MProtect(r, pg, usermem.NoAccess, false)
	if _, err := m.CopyIn(r, b[:]); err != unix.EFAULT {
		t.Errorf("CopyIn from PROT_NONE: %v", err)
	}
	if _, err := m.CopyInForce(r, b[:]); err != nil {
		t.Errorf("CopyInForce from PROT_NONE: %v", err)
	}
	// Shared read-only mappings cannot be forced.
	so := anonOpts(pg)
	so.Private, so.Perms = false, usermem.Read
	s := mustMMap(t, m, so)
	if _, err := m.CopyOutForce(s, []byte{1}); err != unix.EFAULT {
		t.Errorf("CopyOutForce to shared read-only: %v", err)
	}
	// Wrap-around.
	if n, err := m.CopyIn(^uint64(0)-1, buf[:8]); n != 0 || err != unix.EFAULT {
		t.Errorf("CopyIn at the top of the address space: %d %v", n, err)
	}
	if n, err := m.ZeroOut(a, 1<<62); err != unix.EFAULT || n != 2*pg {
		t.Errorf("huge ZeroOut: %d %v", n, err)
	}
	if n, err := m.CopyIn(a, nil); n != 0 || err != nil {
		t.Errorf("empty CopyIn: %d %v", n, err)
	}
	checkInvariants(t, m)
}

func TestCopyInString(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	o := anonOpts(2 * pg)
	o.Fixed, o.Unmap, o.Addr = true, true, 0x40000000
	a := mustMMap(t, m, o)
	m.CopyOut(a, []byte("hello\x00world"))
	if s, err := m.CopyInString(a, 100); s != "hello" || err != nil {
		t.Errorf("%q %v", s, err)
	}
	if s, err := m.CopyInString(a, 5); s != "hello" || err != nil {
		t.Errorf("exact maxLen: %q %v", s, err)
	}
	if _, err := m.CopyInString(a, 4); err != unix.ENAMETOOLONG {
		t.Errorf("too long: %v", err)
	}
	if _, err := m.CopyInString(0x30000000, 10); err != unix.EFAULT {
		t.Errorf("unmapped: %v", err)
	}
	// A string running into a hole.
	long := bytes.Repeat([]byte{'a'}, 300)
	m.CopyOut(a+2*pg-300, long)
	if _, err := m.CopyInString(a+2*pg-300, 4096); err != unix.EFAULT {
		t.Errorf("into hole: %v", err)
	}
	// A long string (several internal chunks) that ends just before the hole.
	long[299] = 0
	m.CopyOut(a+2*pg-300, long)
	if s, err := m.CopyInString(a+2*pg-300, 4096); err != nil || s != strings.Repeat("a", 299) {
		t.Errorf("long string: %d bytes, %v", len(s), err)
	}
	if s, err := m.CopyInString(a+pg, 0); err != nil || s != "" {
		// a+pg is zero: the empty string fits in maxLen 0.
		t.Errorf("empty: %q %v", s, err)
	}
}

func TestMapsTextFormat(t *testing.T) {
	m := newEnv(t).mm
	o := anonOpts(pg)
	o.Fixed, o.Unmap, o.Addr, o.Name, o.Perms = true, true, 0x7ffd8d5e2000, "[stack]", usermem.ReadWrite
	mustMMap(t, m, o)
	o = anonOpts(pg)
	o.Fixed, o.Unmap, o.Addr, o.Perms = true, true, 0x400000, usermem.Read
	mustMMap(t, m, o)
	want := "00400000-00401000 r--p 00000000 00:00 0 \n" +
		"7ffd8d5e2000-7ffd8d5e3000 rw-p 00000000 00:00 0                          [stack]\n"
	if got := m.MapsText(); got != want {
		t.Errorf("maps:\n%q\nwant\n%q", got, want)
	}
}

// TestRandomOps throws hostile arguments at every entry point and checks
// that nothing panics, the bookkeeping stays consistent, and nothing leaks.
func TestRandomOps(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run("", func(t *testing.T) { randomOps(t, seed) })
	}
}

func randomOps(t *testing.T, seed int64) {
	e := newEnv(t)
	f := newFakeFile(t, e.mf, bytes.Repeat([]byte{'f'}, 5*pg+7))
	rnd := rand.New(rand.NewSource(seed))
	mms := []*MemoryManager{e.mm}
	// Addresses cluster in a small area so that operations interact.
	addr := func() uint64 {
		switch rnd.Intn(8) {
		case 0:
			return rnd.Uint64()
		case 1:
			return testMax - uint64(rnd.Intn(8))*pg
		default:
			return 0x40000000 + uint64(rnd.Intn(64))*pg + uint64(rnd.Intn(3)/2)*uint64(rnd.Intn(pg))
		}
	}
	length := func() uint64 {
		switch rnd.Intn(8) {
		case 0:
			return rnd.Uint64()
		case 1:
			return 0
		default:
			return uint64(rnd.Intn(16)) * pg
		}
	}
	perms := func() usermem.AccessType { return usermem.FromProt(rnd.Intn(8)) }
	buf := make([]byte, 8*pg)
	for i := 0; i < 20000; i++ {
		m := mms[rnd.Intn(len(mms))]
		switch rnd.Intn(16) {
		case 0, 1:
			o := MMapOpts{Length: length(), Addr: addr(), Fixed: rnd.Intn(2) == 0, Unmap: rnd.Intn(3) != 0,
				Private: rnd.Intn(3) != 0, Perms: perms(), MaxPerms: usermem.AnyAccess, GrowsDown: rnd.Intn(8) == 0,
				Precommit: rnd.Intn(8) == 0, Map32Bit: rnd.Intn(8) == 0}
			if rnd.Intn(3) == 0 {
				o.Mappable, o.Hold, o.Offset = f, f.hold, uint64(rnd.Intn(4))*pg
			}
			if rnd.Intn(4) == 0 {
				o.MaxPerms = perms()
			}
			m.MMap(o)
		case 2:
			m.MUnmap(addr(), length())
		case 3:
			m.MProtect(addr(), length(), perms(), rnd.Intn(8) == 0)
		case 4:
			m.MRemap(addr(), length(), length(), rnd.Intn(8), addr())
		case 5:
			m.MAdvise(addr(), length(), []int{unix.MADV_DONTNEED, unix.MADV_FREE, unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_WIPEONFORK, unix.MADV_POPULATE_WRITE, 1234}[rnd.Intn(7)])
		case 6:
			m.MinCore(addr(), length())
			m.MSync(addr(), length(), rnd.Intn(8))
		case 7:
			m.CopyIn(addr(), buf[:rnd.Intn(len(buf))])
		case 8:
			m.CopyOut(addr(), buf[:rnd.Intn(len(buf))])
		case 9:
			m.ZeroOut(addr(), length())
			m.CopyOutForce(addr(), buf[:rnd.Intn(16)])
		case 10:
			m.CopyInString(addr(), rnd.Intn(2*pg))
		case 11, 12:
			a := addr()
			w := rnd.Intn(2) == 0
			appAccess(m, e.mf, a, w, byte(i))
			m.HandleFault(addr(), perms(), int32(rnd.Intn(3)))
		case 13:
			if len(mms) < 4 {
				c, err := m.Fork()
				if err != nil {
					t.Fatal(err)
				}
				mms = append(mms, c)
			} else {
				j := rnd.Intn(len(mms))
				checkInvariants(t, mms[j])
				mms[j].Release()
				mms = append(mms[:j], mms[j+1:]...)
				if len(mms) == 0 {
					nm, _ := NewMemoryManager(fakePlatform{}, e.mf)
					mms = append(mms, nm)
				}
			}
		case 14:
			m.Brk(addr())
			if rnd.Intn(50) == 0 {
				m.SetBrkStart(addr())
			}
		case 15:
			m.MapsText()
			checkInvariants(t, m)
		}
	}
	for _, m := range mms {
		checkInvariants(t, m)
		m.Release()
	}
	if h := f.holdCount(); h != 0 {
		t.Errorf("file hold count %d after releasing everything", h)
	}
	f.release()
	if u := e.mf.Usage().Allocated; u != 0 {
		t.Errorf("%d bytes leaked", u)
	}
}

func TestConcurrentThreads(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	o := anonOpts(16 << 20)
	o.Fixed, o.Unmap, o.Addr = true, true, 0x40000000
	a := mustMMap(t, m, o)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(g)))
			var b [64]byte
			for i := 0; i < 2000; i++ {
				off := uint64(rnd.Intn(16<<20 - 64))
				switch rnd.Intn(6) {
				case 0:
					m.CopyOut(a+off, b[:])
				case 1:
					m.CopyIn(a+off, b[:])
				case 2:
					m.HandleFault(a+off, usermem.NoAccess, segvMapErr)
				case 3:
					x, err := m.MMap(anonOpts(pg))
					if err == nil {
						m.CopyOut(x, b[:8])
						m.MUnmap(x, pg)
					}
				case 4:
					m.MAdvise(usermem.PageRoundDown(a+off), pg, unix.MADV_DONTNEED)
				case 5:
					if rnd.Intn(20) == 0 {
						c, err := m.Fork()
						if err == nil {
							c.CopyOut(a+off, b[:])
							c.Release()
						}
					}
				}
			}
		}(g)
	}
	wg.Wait()
	checkInvariants(t, m)
	releaseAll(t, e, m)
}

// FuzzOps drives a short sequence of operations from fuzzer input.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnv(t)
		m := e.mm
		rnd := rand.New(rand.NewSource(int64(len(data))))
		next := func() uint64 {
			if len(data) == 0 {
				return rnd.Uint64()
			}
			v := uint64(data[0])
			data = data[1:]
			return v
		}
		for len(data) > 0 {
			op, a, l := next()%6, 0x40000000+next()*pg, next()*pg
			switch op {
			case 0:
				m.MMap(MMapOpts{Length: l, Addr: a, Fixed: true, Unmap: true, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess})
			case 1:
				m.MUnmap(a, l)
			case 2:
				m.MProtect(a, l, usermem.FromProt(int(next()%8)), false)
			case 3:
				m.MRemap(a, l, next()*pg, int(next()%8), 0x40000000+next()*pg)
			case 4:
				m.CopyOut(a, make([]byte, next()%(4*pg)))
			case 5:
				m.HandleFault(a, usermem.NoAccess, segvMapErr)
			}
		}
		checkInvariants(t, m)
		releaseAll(t, e, m)
	})
}
