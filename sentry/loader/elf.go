package loader

import (
	"encoding/binary"
	"io"
	"math/bits"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// ELF constants (elf(5)); only what the loader needs.
const (
	elfHeaderSize = 64
	phdrSize      = 56
	// maxPhdrBytes bounds the program header table like Linux's
	// load_elf_phdrs (64 KiB).
	maxPhdrBytes = 65536
	// maxInterpLen bounds PT_INTERP like Linux (PATH_MAX).
	maxInterpLen = 4096
	// maxLoadAlign is the largest p_align honoured for placement; larger
	// (or non-power-of-two) alignments are treated as the page size.
	maxLoadAlign = 1 << 30

	etExec = 2
	etDyn  = 3

	emX86_64 = 62

	ptLoad      = 1
	ptInterp    = 3
	ptPhdr      = 6
	ptGNUStack  = 0x6474e551
	pfX         = 1
	pfW         = 2
	pfR         = 4
	elfClass64  = 2
	elfData2LSB = 1
	evCurrent   = 1
)

// progHeader is an Elf64_Phdr.
type progHeader struct {
	Type, Flags                         uint32
	Off, Vaddr, Paddr, Filesz, Memsz, A uint64
}

// elfInfo is a validated ELF executable or interpreter.
type elfInfo struct {
	typ   uint16
	entry uint64
	phoff uint64
	phnum int
	// loads are the PT_LOAD headers, sorted by Vaddr, non-overlapping.
	loads []progHeader
	// interp is PT_INTERP's path, "" if none.
	interp string
	// execStack is PT_GNU_STACK's PF_X.
	execStack bool
	// phdrVaddr is where the program headers are in the image (before the
	// load bias), valid if hasPhdr.
	phdrVaddr uint64
	hasPhdr   bool
	// start and end are the page-rounded bounds of all PT_LOAD segments
	// (before the load bias).
	start, end uint64
	// align is the placement alignment of an ET_DYN image (>= page size).
	align uint64
}

func isELF(hdr []byte) bool {
	return len(hdr) >= 4 && hdr[0] == 0x7f && hdr[1] == 'E' && hdr[2] == 'L' && hdr[3] == 'F'
}

// readFull reads exactly len(p) bytes at off.
func readFull(f io.ReaderAt, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parseELF reads and validates the ELF headers of f. badFormat is the errno
// for a malformed file (ENOEXEC for the executable, ELIBBAD for an
// interpreter, like Linux). maxAddr bounds the addresses the image may use.
//
// It never trusts the file: every offset and size is checked for overflow
// and against the file size before it is used.
func parseELF(f io.ReaderAt, size int64, maxAddr uint64, badFormat unix.Errno) (*elfInfo, error) {
	var hdr [elfHeaderSize]byte
	if size < elfHeaderSize {
		return nil, errorf(badFormat, "file too short for an ELF header (%d bytes)", size)
	}
	if err := readFull(f, hdr[:], 0); err != nil {
		return nil, wrapf(err, unix.EIO, "reading ELF header")
	}
	if !isELF(hdr[:]) {
		return nil, errorf(badFormat, "not an ELF file")
	}
	if hdr[4] != elfClass64 {
		return nil, errorf(badFormat, "ELF class %d is not ELFCLASS64", hdr[4])
	}
	if hdr[5] != elfData2LSB {
		return nil, errorf(badFormat, "ELF data encoding %d is not little-endian", hdr[5])
	}
	if hdr[6] != evCurrent {
		return nil, errorf(badFormat, "ELF ident version %d is not EV_CURRENT", hdr[6])
	}
	le := binary.LittleEndian
	info := &elfInfo{
		typ:   le.Uint16(hdr[16:]),
		entry: le.Uint64(hdr[24:]),
		phoff: le.Uint64(hdr[32:]),
	}
	machine := le.Uint16(hdr[18:])
	if machine != emX86_64 {
		return nil, errorf(badFormat, "ELF machine %d is not x86-64", machine)
	}
	if info.typ != etExec && info.typ != etDyn {
		return nil, errorf(badFormat, "ELF type %d is neither ET_EXEC nor ET_DYN", info.typ)
	}
	if v := le.Uint32(hdr[20:]); v != evCurrent {
		return nil, errorf(badFormat, "ELF version %d is not EV_CURRENT", v)
	}
	if phentsize := le.Uint16(hdr[54:]); phentsize != phdrSize {
		return nil, errorf(badFormat, "e_phentsize %d, want %d", phentsize, phdrSize)
	}
	info.phnum = int(le.Uint16(hdr[56:]))
	tableSize := uint64(info.phnum) * phdrSize
	if info.phnum == 0 || tableSize > maxPhdrBytes {
		return nil, errorf(badFormat, "bad program header count %d", info.phnum)
	}
	if tEnd, c := bits.Add64(info.phoff, tableSize, 0); c != 0 || tEnd > uint64(size) {
		return nil, errorf(badFormat, "program headers [%#x, +%#x) outside the file (%d bytes)", info.phoff, tableSize, size)
	}
	table := make([]byte, tableSize)
	if err := readFull(f, table, int64(info.phoff)); err != nil {
		return nil, wrapf(err, unix.EIO, "reading program headers")
	}

	var (
		interp    *progHeader
		phdrSeg   *progHeader
		prevEnd   uint64
		haveLoads bool
	)
	info.align = usermem.PageSize
	for i := 0; i < info.phnum; i++ {
		b := table[i*phdrSize:]
		ph := progHeader{
			Type:   le.Uint32(b[0:]),
			Flags:  le.Uint32(b[4:]),
			Off:    le.Uint64(b[8:]),
			Vaddr:  le.Uint64(b[16:]),
			Paddr:  le.Uint64(b[24:]),
			Filesz: le.Uint64(b[32:]),
			Memsz:  le.Uint64(b[40:]),
			A:      le.Uint64(b[48:]),
		}
		switch ph.Type {
		case ptLoad:
			if err := checkLoad(&ph, i, size, maxAddr, badFormat); err != nil {
				return nil, err
			}
			if ph.Memsz == 0 {
				continue
			}
			if haveLoads && ph.Vaddr < prevEnd {
				return nil, errorf(badFormat, "PT_LOAD %d at %#x overlaps or precedes the previous one (ending at %#x)", i, ph.Vaddr, prevEnd)
			}
			prevEnd = ph.Vaddr + ph.Memsz
			if !haveLoads {
				info.start = usermem.PageRoundDown(ph.Vaddr)
			}
			haveLoads = true
			info.end, _ = usermem.PageRoundUp(prevEnd) // checkLoad ensured no overflow
			if ph.A > info.align && ph.A <= maxLoadAlign && ph.A&(ph.A-1) == 0 {
				info.align = ph.A
			}
			info.loads = append(info.loads, ph)
		case ptInterp:
			if interp == nil {
				p := ph
				interp = &p
			}
		case ptPhdr:
			if phdrSeg == nil {
				p := ph
				phdrSeg = &p
			}
		case ptGNUStack:
			info.execStack = ph.Flags&pfX != 0
		}
	}
	if !haveLoads {
		return nil, errorf(badFormat, "no loadable segments")
	}
	if info.end-info.start > maxAddr {
		return nil, errorf(unix.ENOMEM, "image spans %#x bytes, more than the address space (%#x)", info.end-info.start, maxAddr)
	}
	if info.typ == etExec && info.end > maxAddr {
		return nil, errorf(unix.ENOMEM, "segments end at %#x, past the top of the address space %#x", info.end, maxAddr)
	}
	if info.entry < info.start || info.entry >= info.end {
		return nil, errorf(badFormat, "entry point %#x outside the loaded image [%#x, %#x)", info.entry, info.start, info.end)
	}

	if interp != nil {
		if interp.Filesz < 2 || interp.Filesz > maxInterpLen {
			return nil, errorf(badFormat, "PT_INTERP size %d out of range [2, %d]", interp.Filesz, maxInterpLen)
		}
		if e, c := bits.Add64(interp.Off, interp.Filesz, 0); c != 0 || e > uint64(size) {
			return nil, errorf(badFormat, "PT_INTERP [%#x, +%#x) outside the file", interp.Off, interp.Filesz)
		}
		buf := make([]byte, interp.Filesz)
		if err := readFull(f, buf, int64(interp.Off)); err != nil {
			return nil, wrapf(err, unix.EIO, "reading PT_INTERP")
		}
		if buf[len(buf)-1] != 0 {
			return nil, errorf(badFormat, "PT_INTERP is not NUL-terminated")
		}
		for i, c := range buf {
			if c == 0 {
				buf = buf[:i]
				break
			}
		}
		if len(buf) == 0 {
			return nil, errorf(badFormat, "PT_INTERP is empty")
		}
		info.interp = string(buf)
	}

	// Where are the program headers in memory (for AT_PHDR)? PT_PHDR if
	// present, else the PT_LOAD segment that contains them in the file.
	if phdrSeg != nil {
		info.phdrVaddr, info.hasPhdr = phdrSeg.Vaddr, true
	} else {
		for _, l := range info.loads {
			if l.Off <= info.phoff && info.phoff+tableSize <= l.Off+l.Filesz {
				info.phdrVaddr, info.hasPhdr = info.phoff-l.Off+l.Vaddr, true
				break
			}
		}
	}
	return info, nil
}

// checkLoad validates one PT_LOAD header.
func checkLoad(ph *progHeader, i int, size int64, maxAddr uint64, badFormat unix.Errno) error {
	if ph.Filesz > ph.Memsz {
		return errorf(badFormat, "PT_LOAD %d: p_filesz %#x > p_memsz %#x", i, ph.Filesz, ph.Memsz)
	}
	if e, c := bits.Add64(ph.Off, ph.Filesz, 0); c != 0 || e > uint64(size) {
		return errorf(badFormat, "PT_LOAD %d: file range [%#x, +%#x) outside the file (%d bytes)", i, ph.Off, ph.Filesz, size)
	}
	if ph.Memsz > maxAddr {
		return errorf(unix.ENOMEM, "PT_LOAD %d: p_memsz %#x larger than the address space", i, ph.Memsz)
	}
	end, c := bits.Add64(ph.Vaddr, ph.Memsz, 0)
	if c != 0 || end > maxAddr {
		return errorf(unix.ENOMEM, "PT_LOAD %d: [%#x, +%#x) beyond the address space (%#x)", i, ph.Vaddr, ph.Memsz, maxAddr)
	}
	if ph.Vaddr&usermem.PageMask != ph.Off&usermem.PageMask {
		return errorf(unix.EINVAL, "PT_LOAD %d: p_vaddr %#x and p_offset %#x differ modulo the page size", i, ph.Vaddr, ph.Off)
	}
	return nil
}

// perms converts p_flags to an access type (on x86, W and X imply R).
func (ph *progHeader) perms() usermem.AccessType {
	at := usermem.AccessType{Read: ph.Flags&pfR != 0, Write: ph.Flags&pfW != 0, Execute: ph.Flags&pfX != 0}
	if at.Write || at.Execute {
		at.Read = true
	}
	return at
}
