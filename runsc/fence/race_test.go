//go:build race

package fence

// raceEnabled: the race runtime makes syscalls of its own (at exit) that
// the sentry's allow-list does not cover.
const raceEnabled = true
