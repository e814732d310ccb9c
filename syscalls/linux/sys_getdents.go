package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Getdents64 implements getdents64(2).
func Getdents64(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return getdents(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), true)
}

// Getdents implements getdents(2) (struct linux_dirent).
func Getdents(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return getdents(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), false)
}

func getdents(t *kernel.Task, fd int32, addr uint64, count uint32, is64 bool) (uintptr, error) {
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	size := min(int(count), maxStage)
	buf := t.Scratch(size)
	n := 0
	tooSmall := false
	le := binary.LittleEndian
	err = f.Getdents(t, func(d *vfs.Dirent) bool {
		var reclen int
		if is64 {
			reclen = (19 + len(d.Name) + 1 + 7) &^ 7
		} else {
			reclen = (18 + len(d.Name) + 2 + 7) &^ 7
		}
		if n+reclen > len(buf) {
			tooSmall = n == 0
			return false
		}
		b := buf[n : n+reclen]
		clear(b)
		le.PutUint64(b[0:], d.Ino)
		le.PutUint64(b[8:], uint64(d.NextOff))
		le.PutUint16(b[16:], uint16(reclen))
		if is64 {
			b[18] = d.Type
			copy(b[19:], d.Name)
		} else {
			copy(b[18:], d.Name)
			b[reclen-1] = d.Type
		}
		n += reclen
		return true
	})
	if err != nil && n == 0 {
		return 0, err
	}
	if tooSmall {
		return 0, unix.EINVAL
	}
	if _, err := t.CopyOut(addr, buf[:n]); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}
