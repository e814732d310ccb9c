package loader

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// scriptBufSize is how much of a file binfmt_script looks at (Linux's
// BINPRM_BUF_SIZE): the #! line must end within it.
const scriptBufSize = 256

// maxScriptDepth is how many #! interpreters may be chained before execve
// fails with ELOOP (Linux's BINPRM_MAX_RECURSION).
const maxScriptDepth = 4

func isScript(hdr []byte) bool { return len(hdr) >= 2 && hdr[0] == '#' && hdr[1] == '!' }

func isSpaceTab(c byte) bool   { return c == ' ' || c == '\t' }
func isTerminator(c byte) bool { return c == ' ' || c == '\t' || c == 0 }
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// parseScript parses the "#!interpreter [arg]" line in buf, the first (at
// most scriptBufSize) bytes of a file, following Linux's binfmt_script:
//
//   - the line ends at the first newline; if there is none within the
//     buffer, the interpreter name must still end (space, tab or NUL)
//     within it, else the line is taken as truncated and ENOEXEC returned;
//   - leading and trailing spaces and tabs are dropped;
//   - the interpreter name ends at the first space, tab or NUL; the rest
//     of the line, after spaces and tabs, is one optional argument (which
//     may contain spaces).
func parseScript(buf []byte) (interp, arg string, hasArg bool, err error) {
	if len(buf) > scriptBufSize {
		buf = buf[:scriptBufSize]
	}
	if !isScript(buf) {
		return "", "", false, errorf(unix.ENOEXEC, "not a #! script")
	}
	line := buf[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else {
		// No newline. Linux treats the last byte of its buffer as a
		// terminator position; require an interpreter name that ends
		// before it.
		j := 0
		for j < len(line) && isSpaceTab(line[j]) {
			j++
		}
		if j == len(line) {
			return "", "", false, errorf(unix.ENOEXEC, "#! line holds only blanks")
		}
		if len(buf) == scriptBufSize {
			line = line[:len(line)-1]
			k := j
			for k < len(line) && !isTerminator(line[k]) {
				k++
			}
			if k == len(line) {
				return "", "", false, errorf(unix.ENOEXEC, "#! interpreter path is truncated (longer than %d bytes)", scriptBufSize)
			}
		}
	}
	for len(line) > 0 && isSpaceTab(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	i := 0
	for i < len(line) && isSpaceTab(line[i]) {
		i++
	}
	line = line[i:]
	if len(line) == 0 || line[0] == 0 {
		return "", "", false, errorf(unix.ENOEXEC, "#! line names no interpreter")
	}
	sep := 0
	for sep < len(line) && !isTerminator(line[sep]) {
		sep++
	}
	interp = string(line[:sep])
	if sep < len(line) && line[sep] != 0 {
		rest := line[sep:]
		for len(rest) > 0 && isSpaceTab(rest[0]) {
			rest = rest[1:]
		}
		if len(rest) > 0 {
			arg, hasArg = string(cString(rest)), true
		}
	}
	return interp, arg, hasArg, nil
}

// scriptArgv returns the argv that the interpreter of script filename gets:
// interp, the optional argument, the script's path (the filename passed
// to execve, not argv[0]), then argv[1:].
func scriptArgv(interp, arg string, hasArg bool, filename string, argv []string) []string {
	n := 2 + len(argv)
	out := make([]string, 0, n+1)
	out = append(out, interp)
	if hasArg {
		out = append(out, arg)
	}
	out = append(out, filename)
	if len(argv) > 1 {
		out = append(out, argv[1:]...)
	}
	return out
}
