package systrap

import (
	"os"
	"strconv"
)

func init() {
	if v, err := strconv.Atoi(os.Getenv("THREAD_SPIN")); err == nil {
		threadSpin = v
	}
	if v, err := strconv.Atoi(os.Getenv("STUB_SPIN")); err == nil {
		stubSpin = v
	}
	if os.Getenv("NOBIND") != "" {
		bindThreads = false
	}
}
