package linux

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// unusedLow and unusedHigh bound the numbers that x86-64 never assigned
// (syscall_64.tbl: "don't use numbers 387 through 423"; 337–386 were
// never used by the 64-bit ABI either).
const (
	unusedLow  = 337
	unusedHigh = 423
)

// TestSyscallNamesMatchUAPIHeader checks every __NR_ constant of the host's
// <asm/unistd_64.h> against the table.
func TestSyscallNamesMatchUAPIHeader(t *testing.T) {
	var f *os.File
	for _, p := range []string{
		"/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
		"/usr/include/asm/unistd_64.h",
	} {
		var err error
		if f, err = os.Open(p); err == nil {
			break
		}
	}
	if f == nil {
		t.Skip("no <asm/unistd_64.h> on this machine (install linux-libc-dev)")
	}
	defer f.Close()

	n := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) != 3 || fields[0] != "#define" || !strings.HasPrefix(fields[1], "__NR_") {
			continue
		}
		nr, err := strconv.Atoi(fields[2])
		if err != nil {
			t.Fatalf("bad line %q: %v", s.Text(), err)
		}
		want := strings.TrimPrefix(fields[1], "__NR_")
		if got, ok := syscallNames[nr]; !ok || got != want {
			t.Errorf("syscallNames[%d] = %q, %v; header says %q", nr, got, ok, want)
		}
		n++
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 300 {
		t.Fatalf("parsed only %d syscalls from the header", n)
	}
}

// TestSyscallNamesComplete checks that the table has no holes, names nothing
// in the unused range, fits the syscall table and has unique names.
func TestSyscallNamesComplete(t *testing.T) {
	max := 0
	for nr := range syscallNames {
		if nr > max {
			max = nr
		}
	}
	if max >= kernel.MaxSyscalls {
		t.Fatalf("highest number %d does not fit kernel.MaxSyscalls (%d)", max, kernel.MaxSyscalls)
	}
	if max < 462 {
		t.Fatalf("highest number is %d, want at least 462 (mseal)", max)
	}
	seen := make(map[string]int)
	for nr := 0; nr <= max; nr++ {
		name, ok := syscallNames[nr]
		unused := nr >= unusedLow && nr <= unusedHigh
		switch {
		case unused && ok:
			t.Errorf("syscallNames[%d] = %q, but %d is unused on x86-64", nr, name, nr)
		case !unused && !ok:
			t.Errorf("syscallNames has no entry for %d", nr)
		case ok && name == "":
			t.Errorf("syscallNames[%d] is empty", nr)
		}
		if ok {
			if prev, dup := seen[name]; dup {
				t.Errorf("name %q used by both %d and %d", name, prev, nr)
			}
			seen[name] = nr
		}
	}
}

// TestSyscallNamesNewest pins the numbers newer than Debian 12's headers.
func TestSyscallNamesNewest(t *testing.T) {
	for nr, want := range map[int]string{
		335: "uretprobe", 336: "uprobe",
		424: "pidfd_send_signal", 425: "io_uring_setup", 435: "clone3",
		451: "cachestat", 452: "fchmodat2", 453: "map_shadow_stack",
		454: "futex_wake", 455: "futex_wait", 456: "futex_requeue",
		457: "statmount", 458: "listmount", 459: "lsm_get_self_attr",
		460: "lsm_set_self_attr", 461: "lsm_list_modules", 462: "mseal",
		463: "setxattrat", 464: "getxattrat", 465: "listxattrat",
		466: "removexattrat", 467: "open_tree_attr", 468: "file_getattr",
		469: "file_setattr", 470: "listns",
	} {
		if got := syscallNames[nr]; got != want {
			t.Errorf("syscallNames[%d] = %q, want %q", nr, got, want)
		}
	}
}
