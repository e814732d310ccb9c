//go:build linux && amd64

package systrap

import "golang.org/x/sys/unix"

// Address-space layout. See README.md.
const (
	// minUserAddress and maxUserAddress bound the application range, as
	// on the ptrace platform.
	minUserAddress = 0x10000
	maxUserAddress = 0x7ff000000000

	// hostTaskSize is the end of the x86-64 4-level-paging user address
	// space (TASK_SIZE_MAX).
	hostTaskSize = 0x7ffffffff000

	pageSize = 4096

	// imageSize is the stub image: a code page (r-x) and a data page (r--).
	imageSize = 2 * pageSize

	// regionGap is the distance from the stub image to the address
	// space's shared region.
	regionGap = 1 << 30

	// slotSize is the size and alignment of a region slot: a state page
	// and the thread's alternate signal stack. The handler finds its state
	// page by masking its stack pointer with ^(slotSize-1).
	slotSize = 0x10000

	// maxThreads is the number of stub threads an address space can have
	// (slot 0 is the request/response pair).
	maxThreads = 4095

	// regionSize is the size of one address space's region.
	regionSize = slotSize * (maxThreads + 1)
)

// Thread state page (stub.S T_*).
const (
	tState       = 0 // futex word, also the CLONE_CHILD_CLEARTID word
	tStubSleep   = 4
	tSentrySleep = 8
	tSigno       = 12
	tUctx        = 16
	tInfo        = 24
	tFSBase      = 32
	tGSBase      = 40
	tSpin        = 48
)

// Thread states (stub.S ST_*). A dead thread's state is 0: the kernel
// clears the word when the thread exits (CLONE_CHILD_CLEARTID).
const (
	stNone  = 0
	stEvent = 1 // parked in the handler; the sentry owns the frame
	stRun   = 2 // running the application
	stExit  = 3 // told to exit
)

// Request page (slot 0, page 0; read-only in the stub) and response page
// (slot 0, page 1).
const (
	rSeq   = 0
	rNr    = 8
	rArgs  = 16
	rExtra = 64

	respOff         = pageSize
	pSeq            = 0
	pSentrySleep    = 4
	pRet            = 8
	imgDataOff      = pageSize // the data page in the stub image
	dFprog          = 0
	dEmptyMask      = 16
	dRegionSize     = 24
	dSharedFD       = 32
	dFilter         = 256 // the app-thread filter's instructions
	maxFilterLength = (pageSize - dFilter) / 8
)

const (
	// forkFlags creates a new address space from the pre-made stub.
	// CLONE_PARENT makes the sentry its parent.
	forkFlags = unix.CLONE_PARENT | uint64(unix.SIGCHLD)

	// threadFlags creates an application thread in a stub. The kernel
	// clears the thread's state word when it exits, waking the sentry.
	threadFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES |
		unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM |
		unix.CLONE_CHILD_CLEARTID
)
