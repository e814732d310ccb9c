package devpts

import (
	"testing"

	"golang.org/x/sys/unix"
)

// feed sends input through the line discipline and returns what the
// replica can read (a line at a time in canonical mode) and the echo.
func feed(t *testing.T, l *lineDiscipline, in string) (read, echo string) {
	t.Helper()
	for i := 0; i < len(in); i++ {
		if r := l.receive(in[i]); r == noRoom {
			t.Fatalf("no room for byte %d", i)
		}
	}
	buf := make([]byte, 256)
	if l.canonical() {
		for len(l.lines) > 0 {
			n := l.readLine(buf)
			read += string(buf[:n])
		}
	} else {
		n := l.in.pop(buf)
		read = string(buf[:n])
	}
	n := l.out.pop(buf)
	return read, string(buf[:n])
}

func TestCanonical(t *testing.T) {
	for _, c := range []struct{ in, read, echo string }{
		{"hi\r", "hi\n", "hi\r\n"},
		{"abc\x7fd\n", "abd\n", "abc\b \bd\r\n"},
		{"xy\x15ok\n", "ok\n", "xy\b \b\b \bok\r\n"},
		{"a b\x17c\n", "a c\n", "a b\b \bc\r\n"},
		{"\x01\n", "\x01\n", "^A\r\n"},
		{"\x16\x03\n", "\x03\n", "^\b^C\r\n"},
		{"ab\x04", "ab", "ab"},
		{"a\tb\x7f\x7f\n", "a\n", "a\tb\b \b\b\b\b\b\b\b\b\r\n"},
	} {
		l := &lineDiscipline{termios: defaultTermios()}
		read, echo := feed(t, l, c.in)
		if read != c.read || echo != c.echo {
			t.Errorf("input %q: read %q echo %q, want %q and %q", c.in, read, echo, c.read, c.echo)
		}
	}
}

func TestSignalCharacters(t *testing.T) {
	l := &lineDiscipline{termios: defaultTermios()}
	for _, c := range []struct {
		b    byte
		want receiveResult
	}{{0x03, sigInt}, {0x1c, sigQuit}, {0x1a, sigTstp}, {'a', received}} {
		if got := l.receive(c.b); got != c.want {
			t.Errorf("receive(%#x) = %v, want %v", c.b, got, c.want)
		}
	}
	l.termios.Lflag &^= unix.ISIG
	if got := l.receive(0x03); got != received {
		t.Errorf("without ISIG: %v", got)
	}
}

func TestRawAndOutput(t *testing.T) {
	l := &lineDiscipline{termios: defaultTermios()}
	raw := l.termios
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Iflag &^= unix.ICRNL
	l.setTermios(&raw)
	if read, echo := feed(t, l, "a\rb"); read != "a\rb" || echo != "" {
		t.Errorf("raw: read %q echo %q", read, echo)
	}
	for _, c := range []byte("x\ty\n") {
		l.outputChar(c)
	}
	buf := make([]byte, 64)
	if got := string(buf[:l.out.pop(buf)]); got != "x\ty\r\n" {
		t.Errorf("ONLCR output %q", got)
	}
	// Pending raw input becomes one line when canonical mode returns.
	feed(t, l, "")
	for _, c := range []byte("pend") {
		l.receive(c)
	}
	l.setTermios(&[]unix.Termios{defaultTermios()}[0])
	if n, eof := l.readable(); n != 4 || !eof {
		t.Errorf("after ICANON: readable %d, %v", n, eof)
	}
}
