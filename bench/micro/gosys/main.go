// Command gosys times Go's own syscall paths: go_pread (a 16-byte
// os.File.ReadAt) goes through internal/runtime/syscall.Syscall6, which
// systrap patches, go_getpid (a syscall.Getppid round trip) through
// syscall.rawSyscallNoError, which it does not. bench/run.sh installs it
// under both names; its name says which. It prints
// "<name> <ns> ns/op" like bench.h's loop: n grows until one run lasts the
// target (argv[1] seconds, default 0.3), then the best of three runs.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	name := filepath.Base(os.Args[0])
	target := 0.3
	if len(os.Args) > 1 {
		if v, err := strconv.ParseFloat(os.Args[1], 64); err == nil {
			target = v
		}
	}
	var op func(n int)
	switch name {
	case "go_getpid":
		op = func(n int) {
			for i := 0; i < n; i++ {
				syscall.Getppid()
			}
		}
	case "go_pread":
		f, err := os.Open("/proc/self/exe")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		buf := make([]byte, 16)
		op = func(n int) {
			for i := 0; i < n; i++ {
				if _, err := f.ReadAt(buf, 0); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "gosys: no benchmark %q (run it as go_getpid or go_pread)\n", name)
		os.Exit(2)
	}
	op(1)
	n := 1
	var took time.Duration
	for {
		t0 := time.Now()
		op(n)
		took = time.Since(t0)
		if took.Seconds() >= target || n >= 1<<40 {
			break
		}
		grow := 100.0
		if took > 0 {
			grow = target * 1.2 / took.Seconds()
		}
		n = int(float64(n) * min(max(grow, 2), 100))
	}
	best := float64(took.Nanoseconds()) / float64(n)
	for i := 0; i < 2; i++ {
		t0 := time.Now()
		op(n)
		best = min(best, float64(time.Since(t0).Nanoseconds())/float64(n))
	}
	fmt.Printf("%s %.1f ns/op\n", name, best)
}
