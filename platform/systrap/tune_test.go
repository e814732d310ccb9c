package systrap

import (
	"os"
	"strconv"
)

// testOptions are the options of the tests' platforms: SYSTRAP_SPIN=N runs
// the tests and benchmarks with Options.Spin = N.
func testOptions() Options {
	n, _ := strconv.Atoi(os.Getenv("SYSTRAP_SPIN"))
	return Options{Spin: n}
}
