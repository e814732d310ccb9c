//go:build !amd64

package strace

// syscallFormat has no entries off amd64: every syscall prints raw.
type syscallFormat struct {
	args  [6]argKind
	n     uint8
	ret   retKind
	fixup func(r *record)
}

func lookup(sysno uintptr) (*syscallFormat, bool) { return nil, false }
