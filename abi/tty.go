package abi

import "golang.org/x/sys/unix"

// MarshalTermios encodes t as the kernel's struct termios (36 bytes; the
// speed fields of unix.Termios belong to termios2 and are not copied).
func MarshalTermios(dst []byte, t *unix.Termios) {
	_ = dst[SizeofTermios-1]
	le.PutUint32(dst[0:], t.Iflag)
	le.PutUint32(dst[4:], t.Oflag)
	le.PutUint32(dst[8:], t.Cflag)
	le.PutUint32(dst[12:], t.Lflag)
	dst[16] = t.Line
	copy(dst[17:36], t.Cc[:])
}

// UnmarshalTermios decodes a struct termios into t, leaving the speeds.
func UnmarshalTermios(src []byte, t *unix.Termios) {
	_ = src[SizeofTermios-1]
	t.Iflag = le.Uint32(src[0:])
	t.Oflag = le.Uint32(src[4:])
	t.Cflag = le.Uint32(src[8:])
	t.Lflag = le.Uint32(src[12:])
	t.Line = src[16]
	copy(t.Cc[:], src[17:36])
}

// MarshalWinsize encodes a struct winsize.
func MarshalWinsize(dst []byte, w *unix.Winsize) {
	_ = dst[SizeofWinsize-1]
	le.PutUint16(dst[0:], w.Row)
	le.PutUint16(dst[2:], w.Col)
	le.PutUint16(dst[4:], w.Xpixel)
	le.PutUint16(dst[6:], w.Ypixel)
}

// UnmarshalWinsize decodes a struct winsize.
func UnmarshalWinsize(src []byte, w *unix.Winsize) {
	_ = src[SizeofWinsize-1]
	w.Row = le.Uint16(src[0:])
	w.Col = le.Uint16(src[2:])
	w.Xpixel = le.Uint16(src[4:])
	w.Ypixel = le.Uint16(src[6:])
}

// SizeofTermios2 is sizeof(struct termios2): struct termios plus the input
// and output speeds (TCGETS2/TCSETS2).
const SizeofTermios2 = 44

// MarshalTermios2 encodes t as the kernel's struct termios2.
func MarshalTermios2(dst []byte, t *unix.Termios) {
	_ = dst[SizeofTermios2-1]
	MarshalTermios(dst, t)
	le.PutUint32(dst[36:], t.Ispeed)
	le.PutUint32(dst[40:], t.Ospeed)
}

// UnmarshalTermios2 decodes a struct termios2 into t.
func UnmarshalTermios2(src []byte, t *unix.Termios) {
	_ = src[SizeofTermios2-1]
	UnmarshalTermios(src, t)
	t.Ispeed = le.Uint32(src[36:])
	t.Ospeed = le.Uint32(src[40:])
}
