//go:build race

package gofer

// raceEnabled: the race runtime makes syscalls of its own (at exit) that
// the gofer's allow-list does not cover.
const raceEnabled = true
