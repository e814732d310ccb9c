// Command escapeprobe runs inside a sandbox whose root is a gofer-served
// directory and tries to read a canary file that lies outside that
// directory on the host, by every path trick it knows. It prints one line
// per attempt ("ESCAPED" if it read the canary) and exits 1 if any
// attempt succeeded. The host-side test (runsc/cmd/gofer_escape_test.go)
// passes the canary's host path as the first argument; further arguments
// are more paths to try (through bind mounts of an OCI bundle).
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

func main() {
	hostCanary := os.Args[1]
	paths := []string{
		"/canary",
		"/../canary",
		"/../../../../canary",
		"/abs",            // symlink to the canary's absolute host path
		"/rel",            // symlink ../canary
		"/sub/deeprel",    // symlink ../../../../canary
		"/dirlink/canary", // symlink to the host directory holding it
		"/proc/self/root/../canary",
		"/proc/1/root/../../canary",
		"/proc/self/cwd/../canary",
		"/proc/self/root/abs",
		hostCanary,
		strings.Repeat("../", 20) + "canary",
	}
	paths = append(paths, os.Args[2:]...)
	escaped := false
	try := func(p string) {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("CANARY")) {
			fmt.Printf("ESCAPED %s\n", p)
			escaped = true
		}
	}
	for _, p := range paths {
		try(p)
		fmt.Printf("tried %s\n", p)
	}
	// The host swaps /swap between a directory and a symlink to the
	// canary's directory while we walk through it.
	for i := 0; i < 3000; i++ {
		try("/swap/canary")
	}
	fmt.Println("tried /swap/canary 3000 times")
	if escaped {
		os.Exit(1)
	}
}
