//go:build race

package gofer_test

// raceEnabled: the race runtime makes syscalls of its own that the
// gofer's seccomp allow-list does not cover.
const raceEnabled = true
