package mm

import (
	"reflect"

	"golang.org/x/sys/unix"
)

// FutexKey identifies the memory that holds a futex word, so that the
// kernel's futex queues can match a waiter with a waker.
//
// A private key (FUTEX_PRIVATE_FLAG) is the address space and the address.
// A shared key (no FUTEX_PRIVATE_FLAG) of a word in a MAP_SHARED mapping
// names the object behind the mapping (the Mappable of a file, or the
// shared anonymous memory object, which Fork shares) and the word's offset
// in it, so that two mappings of the same file, in one or in different
// address spaces, give the same key: it is Linux's inode and page offset.
// A shared key of private memory is again the address space and the
// address, but marked Shared: as on Linux, a private wake does not reach
// a shared waiter of the same word, nor the reverse. (This is why the
// kernel's own wakes, for CLONE_CHILD_CLEARTID and robust lists, are
// shared ones: libcs wait for them without FUTEX_PRIVATE_FLAG.)
//
// Keys are comparable with ==. They keep Object alive for as long as a
// queue holds them, but hold no reference on memory.
type FutexKey struct {
	// Object is the *MemoryManager of a private key, or the
	// memmap.Mappable behind the shared mapping.
	Object any
	// Offset is the address (private key) or the byte offset in Object
	// (shared key).
	Offset uint64
	// Shared is set for every key made by SharedFutexKey.
	Shared bool
}

// PrivateFutexKey returns the key of the word at addr in private memory.
// It does not look at the address space: FUTEX_WAKE with
// FUTEX_PRIVATE_FLAG does not fail on a bad address.
func (mm *MemoryManager) PrivateFutexKey(addr uint64) FutexKey {
	return FutexKey{Object: mm, Offset: addr}
}

// SharedFutexKey returns the key of the word at addr for a futex without
// FUTEX_PRIVATE_FLAG: the backing object and offset for a MAP_SHARED
// mapping, the address space and address otherwise. It returns EFAULT if addr is not in
// a readable mapping. Nothing needs to be faulted in: the key does not
// depend on which memory-file page currently backs the word.
func (mm *MemoryManager) SharedFutexKey(addr uint64) (FutexKey, error) {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	v := mm.findVMALocked(addr)
	if v == nil || !v.allows(false, false) {
		return FutexKey{}, unix.EFAULT
	}
	if v.private || v.mappable == nil || !reflect.TypeOf(v.mappable).Comparable() {
		// Private memory (anonymous, or a private file mapping) is
		// keyed by address space and address. A Mappable that cannot
		// be compared (none exists today) degrades to the same.
		return FutexKey{Object: mm, Offset: addr, Shared: true}, nil
	}
	return FutexKey{Object: v.mappable, Offset: v.off + (addr - v.start), Shared: true}, nil
}
