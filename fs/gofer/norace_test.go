//go:build !race

package gofer_test

const raceEnabled = false
