package mm

import (
	"testing"
)

func TestCopyFastPathDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	m := e.mm
	a := mustMMap(t, m, anonOpts(4*pg))
	var b [128]byte
	m.CopyOut(a, b[:]) // fault in
	allocs := testing.AllocsPerRun(100, func() {
		m.CopyOut(a+100, b[:])
		m.CopyIn(a+100, b[:])
		m.ZeroOut(a+200, 64)
	})
	if allocs != 0 {
		t.Errorf("copy fast path allocates %v times", allocs)
	}
}

func BenchmarkCopyIn64(b *testing.B) {
	e := newEnv(b)
	m := e.mm
	a, _ := m.MMap(anonOpts(4 * pg))
	var buf [64]byte
	m.CopyOut(a, buf[:])
	b.ReportAllocs()
	for b.Loop() {
		m.CopyIn(a+8, buf[:])
	}
}
