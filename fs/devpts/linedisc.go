package devpts

import (
	"golang.org/x/sys/unix"
)

// The line discipline: Linux's N_TTY (drivers/tty/n_tty.c) for one
// pseudo-terminal. Bytes written to the master are input: they go through
// input processing (ISTRIP, IGNCR, ICRNL, INLCR), signal characters,
// canonical line editing and echo, into the queue the replica reads.
// Bytes written to the replica are output: they go through output
// processing (OPOST: ONLCR, OCRNL, ONOCR, ONLRET, TAB3) into the queue the
// master reads. Echo is output too.
//
// Every method is called with Terminal.mu held.

// Queue sizes. inCap bounds the replica's input (Linux: the 4 KiB N_TTY
// buffer plus the 64 KiB flip buffer in front of it); a canonical line
// holds at most maxLine bytes (N_TTY_BUF_SIZE - 1), further ordinary
// characters are dropped. outCap bounds the output the master has not read.
const (
	inCap   = 65536
	maxLine = 4095
	outCap  = 65536
)

// byteQueue is a FIFO of bytes.
type byteQueue struct {
	buf  []byte
	head int
}

func (q *byteQueue) len() int      { return len(q.buf) - q.head }
func (q *byteQueue) bytes() []byte { return q.buf[q.head:] }

func (q *byteQueue) push(b ...byte) { q.buf = append(q.buf, b...) }

// pop moves up to len(dst) bytes into dst.
func (q *byteQueue) pop(dst []byte) int {
	n := copy(dst, q.buf[q.head:])
	q.head += n
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > 4096 && q.head > len(q.buf)/2 {
		k := copy(q.buf, q.buf[q.head:])
		q.buf, q.head = q.buf[:k], 0
	}
	return n
}

// truncate drops the bytes after the first n.
func (q *byteQueue) truncate(n int) { q.buf = q.buf[:q.head+n] }

func (q *byteQueue) reset() { q.buf, q.head = q.buf[:0], 0 }

// defaultTermios is a new replica's termios (Linux's tty_std_termios with
// the pty's cflag): cooked mode, echo, signals, CR→NL on input, NL→CRNL on
// output, 38400 baud.
func defaultTermios() unix.Termios {
	t := unix.Termios{
		Iflag:  unix.ICRNL | unix.IXON,
		Oflag:  unix.OPOST | unix.ONLCR,
		Cflag:  unix.B38400 | unix.CS8 | unix.CREAD,
		Lflag:  unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
		Ispeed: 38400,
		Ospeed: 38400,
	}
	cc := map[int]byte{
		unix.VINTR: 0x03, unix.VQUIT: 0x1c, unix.VERASE: 0x7f, unix.VKILL: 0x15,
		unix.VEOF: 0x04, unix.VTIME: 0, unix.VMIN: 1, unix.VSTART: 0x11,
		unix.VSTOP: 0x13, unix.VSUSP: 0x1a, unix.VREPRINT: 0x12,
		unix.VDISCARD: 0x0f, unix.VWERASE: 0x17, unix.VLNEXT: 0x16,
	}
	for i, v := range cc {
		t.Cc[i] = v
	}
	return t
}

// lineDiscipline is the state of N_TTY for one terminal.
type lineDiscipline struct {
	termios unix.Termios

	// in holds the input the replica reads. In canonical mode its first
	// committed bytes form complete lines (their lengths in lines, a
	// zero-length line being an end of file) and the rest is the line
	// being edited; otherwise all of it is readable.
	in        byteQueue
	lines     []int
	committed int
	// lnext: the previous character was VLNEXT; this one is literal.
	lnext bool

	// out holds the output the master reads.
	out byteQueue
	// column is the output column, for tabs and erasing; canonColumn is
	// the column where the line being edited started.
	column, canonColumn int

	// stopped is set by VSTOP (IXON) and TCOOFF: the replica's writes
	// wait until VSTART or TCOON.
	stopped bool
}

func (l *lineDiscipline) lflag(f uint32) bool { return l.termios.Lflag&f != 0 }
func (l *lineDiscipline) iflag(f uint32) bool { return l.termios.Iflag&f != 0 }
func (l *lineDiscipline) oflag(f uint32) bool { return l.termios.Oflag&f != 0 }
func (l *lineDiscipline) canonical() bool     { return l.lflag(unix.ICANON) }

// is reports whether c is the enabled special character cc[i]
// (_POSIX_VDISABLE, 0, disables one).
func (l *lineDiscipline) is(c byte, i int) bool {
	v := l.termios.Cc[i]
	return v != 0 && c == v
}

func iscntrl(c byte) bool { return c < 0x20 || c == 0x7f }

// isContinuation reports whether c continues a UTF-8 character under
// IUTF8 (erasing removes whole characters).
func (l *lineDiscipline) isContinuation(c byte) bool {
	return l.iflag(unix.IUTF8) && c&0xc0 == 0x80
}

// setTermios installs t, adjusting the input queue when ICANON changes as
// Linux's n_tty_set_termios: leaving canonical mode makes everything
// readable; entering it makes pending input one line.
func (l *lineDiscipline) setTermios(t *unix.Termios) {
	wasCanon := l.canonical()
	l.termios = *t
	if wasCanon == l.canonical() {
		return
	}
	l.lines = l.lines[:0]
	l.committed = 0
	l.lnext = false
	if l.canonical() && l.in.len() > 0 {
		l.lines = append(l.lines, l.in.len())
		l.committed = l.in.len()
	}
	if !l.iflag(unix.IXON) {
		l.stopped = false
	}
}

// flushInput discards the replica's unread input.
func (l *lineDiscipline) flushInput() {
	l.in.reset()
	l.lines = l.lines[:0]
	l.committed = 0
	l.lnext = false
}

// flushOutput discards the output the master has not read (its own
// input flush).
func (l *lineDiscipline) flushOutput() { l.out.reset() }

// readable reports how many bytes a replica read could return now (in
// canonical mode, the complete lines), and whether an end of file is
// pending.
func (l *lineDiscipline) readable() (n int, eof bool) {
	if !l.canonical() {
		return l.in.len(), false
	}
	return l.committed, len(l.lines) > 0
}

// readLine moves the rest of the first complete line, at most len(dst)
// bytes, into dst (canonical mode; a line is pending).
func (l *lineDiscipline) readLine(dst []byte) int {
	n := l.in.pop(dst[:min(len(dst), l.lines[0])])
	l.lines[0] -= n
	l.committed -= n
	if l.lines[0] == 0 {
		l.lines = l.lines[1:]
	}
	return n
}

// outputRoom returns the free space of the output queue.
func (l *lineDiscipline) outputRoom() int { return outCap - l.out.len() }

// outputChar queues c with output processing (Linux's do_output_char) and
// reports whether there was room.
func (l *lineDiscipline) outputChar(c byte) bool {
	// The most one byte can become is a tab expanded to 8 spaces.
	if l.outputRoom() < 8 {
		return false
	}
	if !l.oflag(unix.OPOST) {
		l.out.push(c)
		return true
	}
	switch c {
	case '\n':
		if l.oflag(unix.ONLRET) {
			l.column = 0
		}
		if l.oflag(unix.ONLCR) {
			l.column, l.canonColumn = 0, 0
			l.out.push('\r', '\n')
			return true
		}
		l.canonColumn = l.column
	case '\r':
		if l.oflag(unix.ONOCR) && l.column == 0 {
			return true
		}
		if l.oflag(unix.OCRNL) {
			c = '\n'
			if l.oflag(unix.ONLRET) {
				l.column, l.canonColumn = 0, 0
			}
			break
		}
		l.column, l.canonColumn = 0, 0
	case '\t':
		spaces := 8 - l.column&7
		if l.termios.Oflag&unix.TABDLY == unix.TAB3 {
			l.column += spaces
			l.out.push([]byte("        ")[:spaces]...)
			return true
		}
		l.column += spaces
	case '\b':
		if l.column > 0 {
			l.column--
		}
	default:
		if !iscntrl(c) && !l.isContinuation(c) {
			l.column++
		}
	}
	l.out.push(c)
	return true
}

// echoRaw echoes c with output processing; echoes that do not fit are
// dropped, as Linux's.
func (l *lineDiscipline) echoRaw(c byte) { l.outputChar(c) }

// echoChar echoes an input character: ^X for control characters other
// than tab under ECHOCTL.
func (l *lineDiscipline) echoChar(c byte) {
	if l.lflag(unix.ECHOCTL) && iscntrl(c) && c != '\t' {
		if l.outputRoom() >= 2 {
			l.out.push('^', c^0x40)
			l.column += 2
		}
		return
	}
	l.echoRaw(c)
}

// partial returns the line being edited (canonical mode).
func (l *lineDiscipline) partial() []byte { return l.in.bytes()[l.committed:] }

// commitLine ends the line being edited.
func (l *lineDiscipline) commitLine() {
	n := l.in.len() - l.committed
	l.lines = append(l.lines, n)
	l.committed += n
}

// Kinds of erasing.
const (
	eraseChar = iota
	eraseWord
	eraseLine
)

// erase implements VERASE, VWERASE and VKILL (Linux's eraser).
func (l *lineDiscipline) erase(c byte, kind int) {
	line := l.partial()
	if len(line) == 0 {
		return
	}
	echo := l.lflag(unix.ECHO)
	if kind == eraseLine {
		if !echo {
			l.in.truncate(l.committed)
			return
		}
		if !l.lflag(unix.ECHOK) || !l.lflag(unix.ECHOKE) || !l.lflag(unix.ECHOE) {
			l.in.truncate(l.committed)
			l.echoChar(c)
			if l.lflag(unix.ECHOK) {
				l.echoRaw('\n')
			}
			return
		}
	}
	seenAlnum := false
	n := len(line)
	for n > 0 {
		// One character: a UTF-8 sequence under IUTF8.
		start := n - 1
		for start > 0 && l.isContinuation(line[start]) {
			start--
		}
		ch := line[start]
		if kind == eraseWord {
			if ch == '_' || ch >= '0' && ch <= '9' || ch|0x20 >= 'a' && ch|0x20 <= 'z' {
				seenAlnum = true
			} else if seenAlnum {
				break
			}
		}
		n = start
		if echo {
			switch {
			case kind == eraseChar && !l.lflag(unix.ECHOE):
				l.echoChar(l.termios.Cc[unix.VERASE])
			case ch == '\t':
				// Back up to the column the tab started at.
				col := l.canonColumn
				for _, p := range line[:n] {
					switch {
					case p == '\t':
						col = (col | 7) + 1
					case iscntrl(p):
						if l.lflag(unix.ECHOCTL) {
							col += 2
						}
					case !l.isContinuation(p):
						col++
					}
				}
				for i := l.column - col; i > 0; i-- {
					l.echoRaw('\b')
				}
			default:
				if iscntrl(ch) && l.lflag(unix.ECHOCTL) {
					l.echoRaw('\b')
					l.echoRaw(' ')
					l.echoRaw('\b')
				}
				if !iscntrl(ch) || l.lflag(unix.ECHOCTL) {
					l.echoRaw('\b')
					l.echoRaw(' ')
					l.echoRaw('\b')
				}
			}
		}
		if kind == eraseChar {
			break
		}
	}
	l.in.truncate(l.committed + n)
}

// reprint implements VREPRINT: the line being edited on a fresh line.
func (l *lineDiscipline) reprint(c byte) {
	l.echoChar(c)
	l.echoRaw('\n')
	for _, p := range l.partial() {
		l.echoChar(p)
	}
}

// receiveResult is what receiving one input byte asks of the terminal.
type receiveResult int

const (
	received receiveResult = iota
	// noRoom: the byte was not consumed; wait for the reader.
	noRoom
	// sigInt, sigQuit, sigTstp: the byte was a signal character.
	sigInt
	sigQuit
	sigTstp
)

// receive processes one input byte (Linux's n_tty_receive_char and its
// special cases).
func (l *lineDiscipline) receive(c byte) receiveResult {
	if l.iflag(unix.ISTRIP) {
		c &= 0x7f
	}
	canon := l.canonical()
	if l.lnext {
		if !l.hasRoom(canon) {
			return noRoom
		}
		l.lnext = false
		l.store(c, canon)
		return received
	}
	if l.iflag(unix.IXON) {
		if l.is(c, unix.VSTART) {
			l.stopped = false
			return received
		}
		if l.is(c, unix.VSTOP) {
			l.stopped = true
			return received
		}
		if l.stopped && l.iflag(unix.IXANY) {
			l.stopped = false
		}
	}
	if l.lflag(unix.ISIG) {
		var r receiveResult
		switch {
		case l.is(c, unix.VINTR):
			r = sigInt
		case l.is(c, unix.VQUIT):
			r = sigQuit
		case l.is(c, unix.VSUSP):
			r = sigTstp
		}
		if r != received {
			// Linux flushes the input and the driver's output buffer;
			// a pty's output has already reached the master's queue.
			if !l.lflag(unix.NOFLSH) {
				l.flushInput()
			}
			if l.iflag(unix.IXON) {
				l.stopped = false
			}
			if l.lflag(unix.ECHO) {
				l.echoChar(c)
			}
			return r
		}
	}
	if c == '\r' {
		if l.iflag(unix.IGNCR) {
			return received
		}
		if l.iflag(unix.ICRNL) {
			c = '\n'
		}
	} else if c == '\n' && l.iflag(unix.INLCR) {
		c = '\r'
	}
	if canon {
		iext := l.lflag(unix.IEXTEN)
		switch {
		case l.is(c, unix.VERASE):
			l.erase(c, eraseChar)
			return received
		case l.is(c, unix.VKILL):
			l.erase(c, eraseLine)
			return received
		case iext && l.is(c, unix.VWERASE):
			l.erase(c, eraseWord)
			return received
		case iext && l.is(c, unix.VLNEXT):
			l.lnext = true
			if l.lflag(unix.ECHO) && l.lflag(unix.ECHOCTL) {
				l.echoRaw('^')
				l.echoRaw('\b')
			}
			return received
		case iext && l.is(c, unix.VREPRINT) && l.lflag(unix.ECHO):
			l.reprint(c)
			return received
		case c == '\n':
			if l.in.len() >= inCap {
				return noRoom
			}
			if l.lflag(unix.ECHO) || l.lflag(unix.ECHONL) {
				l.echoRaw('\n')
			}
			l.in.push(c)
			l.commitLine()
			return received
		case l.is(c, unix.VEOF):
			l.commitLine()
			return received
		case l.is(c, unix.VEOL) || iext && l.is(c, unix.VEOL2):
			if l.in.len() >= inCap {
				return noRoom
			}
			if l.lflag(unix.ECHO) {
				if len(l.partial()) == 0 {
					l.canonColumn = l.column
				}
				l.echoChar(c)
			}
			l.in.push(c)
			l.commitLine()
			return received
		}
	}
	if !l.hasRoom(canon) {
		return noRoom
	}
	l.store(c, canon)
	return received
}

// hasRoom reports whether an ordinary character can be stored now; a
// canonical line that is full drops characters instead (so there is room).
func (l *lineDiscipline) hasRoom(canon bool) bool {
	return l.in.len() < inCap || canon && len(l.partial()) >= maxLine
}

// store echoes and queues an ordinary input character.
func (l *lineDiscipline) store(c byte, canon bool) {
	if canon && len(l.partial()) >= maxLine {
		return
	}
	if l.lflag(unix.ECHO) {
		if canon && len(l.partial()) == 0 {
			l.canonColumn = l.column
		}
		l.echoChar(c)
	}
	l.in.push(c)
}
