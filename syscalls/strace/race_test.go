//go:build race

package strace

const raceEnabled = true
