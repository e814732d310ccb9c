package mm

import (
	"reflect"

	"golang.org/x/sys/unix"
)

// FutexKey identifies the memory that holds a futex word, so that the
// kernel's futex queues can match a waiter with a waker.
//
// A private key (FUTEX_PRIVATE_FLAG, or any futex in private memory) is the
// address space and the address, like Linux's. A shared key of a word in a
// MAP_SHARED mapping names the object behind the mapping (the Mappable of a
// file, or the shared anonymous memory object, which Fork shares) and the
// word's offset in it, so that two mappings of the same file, in one or in
// different address spaces, give the same key: it is Linux's inode and page
// offset.
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
}

// PrivateFutexKey returns the key of the word at addr in private memory.
// It does not look at the address space: FUTEX_WAKE with
// FUTEX_PRIVATE_FLAG does not fail on a bad address.
func (mm *MemoryManager) PrivateFutexKey(addr uint64) FutexKey {
	return FutexKey{Object: mm, Offset: addr}
}

// SharedFutexKey returns the key of the word at addr for a futex without
// FUTEX_PRIVATE_FLAG: the backing object and offset for a MAP_SHARED
// mapping, the private key otherwise. It returns EFAULT if addr is not in
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
		// keyed like a private futex. A Mappable that cannot be a map
		// key (none exists today) degrades to the same.
		return FutexKey{Object: mm, Offset: addr}, nil
	}
	return FutexKey{Object: v.mappable, Offset: v.off + (addr - v.start)}, nil
}
