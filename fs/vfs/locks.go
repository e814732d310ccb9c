package vfs

import (
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// File locks, as Linux's fs/locks.c keeps them: three kinds on one file.
//
//   - POSIX record locks (fcntl F_SETLK/F_SETLKW/F_GETLK) are owned by a
//     descriptor table, so every thread sharing it shares them, and they
//     are all released when the owner closes any descriptor of the file.
//   - Open file description locks (F_OFD_*) are byte ranges in the same
//     space, owned by the description and released with its last
//     reference.
//   - flock(2) locks are whole-file, owned by the description, and do not
//     interact with the other two.
//
// A file is identified by its Inode; a file without one (a pipe, a
// donated host file) keeps its locks in its description.

// LockRange is a byte range [Start, End] of a record lock; End is
// LockEOF for "to the end of the file, however far it grows".
type LockRange struct {
	Start, End int64
}

// LockEOF is the End of a range that extends to infinity (l_len == 0).
const LockEOF = math.MaxInt64

func (r LockRange) overlaps(o LockRange) bool { return r.Start <= o.End && o.Start <= r.End }

// RecordLock describes a record lock for F_GETLK's answer.
type RecordLock struct {
	Type  int16 // unix.F_RDLCK or unix.F_WRLCK; F_UNLCK: no conflict
	Range LockRange
	// PID is the owning process, -1 for an open file description lock.
	PID int32
}

// recordLock is one held range. owner is a *FDTable (POSIX) or a
// *FileDescription (OFD).
type recordLock struct {
	owner any
	typ   int16
	r     LockRange
	pid   int32
}

// fileLocks are the locks of one file; protected by lockSpace.mu.
type fileLocks struct {
	records []recordLock
	flocks  map[*FileDescription]int16
	// changed is closed, and replaced, whenever a lock is released or
	// downgraded, waking the waiters to try again.
	changed chan struct{}
}

func (fl *fileLocks) empty() bool { return len(fl.records) == 0 && len(fl.flocks) == 0 }

func (fl *fileLocks) wake() {
	if fl.changed != nil {
		close(fl.changed)
		fl.changed = nil
	}
}

func (fl *fileLocks) waitChan() <-chan struct{} {
	if fl.changed == nil {
		fl.changed = make(chan struct{})
	}
	return fl.changed
}

// lockSpace is the VFS's table of file locks.
type lockSpace struct {
	mu sync.Mutex
	// files maps a file to its locks while it has any. Protected by mu.
	files map[any]*fileLocks
	// waitingFor maps a POSIX owner blocked in F_SETLKW to the owner it
	// waits for, for deadlock detection. Protected by mu.
	waitingFor map[any]any
	// records counts files with record locks, so that close(2) only
	// takes mu when some POSIX lock exists anywhere.
	records atomic.Int64
}

// maxDeadlockSteps bounds the wait-for chain walked by deadlock detection,
// as Linux's MAX_DEADLK_ITERATIONS does.
const maxDeadlockSteps = 10

// BlockFunc waits until ch is closed or the caller is interrupted (then
// it returns the error to give the application, e.g. ERESTARTSYS).
type BlockFunc func(ch <-chan struct{}) error

// lockKey returns the key of fd's file and the lock space holding it.
func (fd *FileDescription) lockKey() (*lockSpace, any) {
	if fd.vd.dentry != nil {
		return &fd.vd.mount.vfs.locks, fd.vd.dentry.inode
	}
	return &fd.anonLocks, fd
}

func (ls *lockSpace) getLocked(key any) *fileLocks {
	fl := ls.files[key]
	if fl == nil {
		if ls.files == nil {
			ls.files = make(map[any]*fileLocks)
		}
		fl = &fileLocks{}
		ls.files[key] = fl
	}
	return fl
}

func (ls *lockSpace) putLocked(key any, fl *fileLocks) {
	if fl.empty() {
		fl.wake()
		delete(ls.files, key)
	}
}

// conflictLocked returns the first record lock of another owner that a
// lock of typ on r by owner would conflict with.
func (fl *fileLocks) conflictLocked(owner any, typ int16, r LockRange) *recordLock {
	for i := range fl.records {
		l := &fl.records[i]
		if l.owner == owner || !l.r.overlaps(r) {
			continue
		}
		if typ == unix.F_WRLCK || l.typ == unix.F_WRLCK {
			return l
		}
	}
	return nil
}

// setRangeLocked makes owner's locks on r be typ (F_UNLCK removes them),
// splitting and merging ranges like Linux so that an owner never holds
// two overlapping or adjacent ranges of the same type.
func (fl *fileLocks) setRangeLocked(owner any, typ int16, r LockRange, pid int32) {
	out := fl.records[:0:0]
	nr := r
	for _, l := range fl.records {
		if l.owner != owner {
			out = append(out, l)
			continue
		}
		adjacent := l.r.End != LockEOF && l.r.End+1 == nr.Start || nr.End != LockEOF && nr.End+1 == l.r.Start
		if l.typ == typ && (l.r.overlaps(nr) || adjacent) {
			// Same type: absorb it into the new range.
			nr.Start = min(nr.Start, l.r.Start)
			nr.End = max(nr.End, l.r.End)
			continue
		}
		if !l.r.overlaps(r) {
			out = append(out, l)
			continue
		}
		// Keep the parts of l outside r.
		if l.r.Start < r.Start {
			left := l
			left.r.End = r.Start - 1
			out = append(out, left)
		}
		if l.r.End > r.End {
			right := l
			right.r.Start = r.End + 1
			out = append(out, right)
		}
	}
	if typ != unix.F_UNLCK {
		out = append(out, recordLock{owner: owner, typ: typ, r: nr, pid: pid})
	}
	fl.records = out
}

// deadlockLocked reports whether owner waiting for blocker closes a cycle
// of POSIX owners waiting for one another.
func (ls *lockSpace) deadlockLocked(owner, blocker any) bool {
	for i := 0; i < maxDeadlockSteps; i++ {
		if blocker == owner {
			return true
		}
		next, ok := ls.waitingFor[blocker]
		if !ok {
			return false
		}
		blocker = next
	}
	return false
}

// SetRecordLock implements F_SETLK/F_SETLKW (ofd false: the owner is the
// caller's descriptor table, pid its process) and F_OFD_SETLK/SETLKW (ofd
// true: the owner is fd). typ F_UNLCK releases. With block nil it fails
// with EAGAIN on a conflict; otherwise it waits with block, failing with
// EDEADLK when waiting would deadlock POSIX owners.
func (fd *FileDescription) SetRecordLock(table *FDTable, pid int32, ofd bool, typ int16, r LockRange, block BlockFunc) error {
	switch typ {
	case unix.F_RDLCK:
		if !fd.IsReadable() {
			return unix.EBADF
		}
	case unix.F_WRLCK:
		if !fd.IsWritable() {
			return unix.EBADF
		}
	case unix.F_UNLCK:
	default:
		return unix.EINVAL
	}
	var owner any = table
	if ofd {
		owner, pid = fd, -1
		fd.hasLocks.Store(true)
	}
	ls, key := fd.lockKey()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for {
		fl := ls.getLocked(key)
		c := fl.conflictLocked(owner, typ, r)
		if typ == unix.F_UNLCK || c == nil {
			had := len(fl.records) > 0
			fl.setRangeLocked(owner, typ, r, pid)
			if has := len(fl.records) > 0; had != has {
				if has {
					ls.records.Add(1)
				} else {
					ls.records.Add(-1)
				}
			}
			// Any change may have released a range someone waits for.
			fl.wake()
			ls.putLocked(key, fl)
			return nil
		}
		if block == nil {
			ls.putLocked(key, fl)
			return unix.EAGAIN
		}
		if !ofd {
			if _, isOFD := c.owner.(*FileDescription); !isOFD && ls.deadlockLocked(owner, c.owner) {
				return unix.EDEADLK
			}
			if ls.waitingFor == nil {
				ls.waitingFor = make(map[any]any)
			}
			ls.waitingFor[owner] = c.owner
		}
		ch := fl.waitChan()
		ls.mu.Unlock()
		err := block(ch)
		ls.mu.Lock()
		if !ofd {
			delete(ls.waitingFor, owner)
		}
		if err != nil {
			if fl := ls.files[key]; fl != nil {
				ls.putLocked(key, fl)
			}
			return err
		}
	}
}

// GetRecordLock implements F_GETLK/F_OFD_GETLK: the first lock that would
// conflict with typ on r, or Type F_UNLCK if there is none.
func (fd *FileDescription) GetRecordLock(table *FDTable, ofd bool, typ int16, r LockRange) (RecordLock, error) {
	if typ != unix.F_RDLCK && typ != unix.F_WRLCK {
		return RecordLock{}, unix.EINVAL
	}
	var owner any = table
	if ofd {
		owner = fd
	}
	ls, key := fd.lockKey()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	fl := ls.files[key]
	if fl == nil {
		return RecordLock{Type: unix.F_UNLCK}, nil
	}
	c := fl.conflictLocked(owner, typ, r)
	if c == nil {
		return RecordLock{Type: unix.F_UNLCK}, nil
	}
	return RecordLock{Type: c.typ, Range: c.r, PID: c.pid}, nil
}

// Flock implements flock(2): op is LOCK_SH, LOCK_EX or LOCK_UN (without
// LOCK_NB). As on Linux, converting a held lock first drops it. With block
// nil a conflict fails with EWOULDBLOCK.
func (fd *FileDescription) Flock(op int, block BlockFunc) error {
	var typ int16
	switch op {
	case unix.LOCK_SH:
		typ = unix.F_RDLCK
	case unix.LOCK_EX:
		typ = unix.F_WRLCK
	case unix.LOCK_UN:
		typ = unix.F_UNLCK
	default:
		return unix.EINVAL
	}
	if fd.opath {
		return unix.EBADF
	}
	fd.hasLocks.Store(true)
	ls, key := fd.lockKey()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	fl := ls.getLocked(key)
	if old, ok := fl.flocks[fd]; ok {
		if old == typ {
			return nil
		}
		delete(fl.flocks, fd)
		fl.wake()
	}
	for typ != unix.F_UNLCK {
		conflict := false
		for o, t := range fl.flocks {
			if o != fd && (typ == unix.F_WRLCK || t == unix.F_WRLCK) {
				conflict = true
				break
			}
		}
		if !conflict {
			if fl.flocks == nil {
				fl.flocks = make(map[*FileDescription]int16)
			}
			fl.flocks[fd] = typ
			return nil
		}
		if block == nil {
			ls.putLocked(key, fl)
			return unix.EWOULDBLOCK
		}
		ch := fl.waitChan()
		ls.mu.Unlock()
		err := block(ch)
		ls.mu.Lock()
		fl = ls.getLocked(key)
		if err != nil {
			ls.putLocked(key, fl)
			return err
		}
	}
	ls.putLocked(key, fl)
	return nil
}

// releasePOSIXLocks drops table's record locks on fd's file: POSIX locks
// die when their owner closes any descriptor of the file.
func (table *FDTable) releasePOSIXLocks(fd *FileDescription) {
	ls, key := fd.lockKey()
	if ls.records.Load() == 0 {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if fl := ls.files[key]; fl != nil {
		fd.dropOwnerLocked(ls, key, fl, table)
	}
}

// releaseDescriptionLocks drops the OFD and flock locks of fd, whose last
// reference is gone.
func (fd *FileDescription) releaseDescriptionLocks() {
	if !fd.hasLocks.Load() {
		return
	}
	ls, key := fd.lockKey()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if fl := ls.files[key]; fl != nil {
		delete(fl.flocks, fd)
		fd.dropOwnerLocked(ls, key, fl, fd)
	}
}

func (fd *FileDescription) dropOwnerLocked(ls *lockSpace, key any, fl *fileLocks, owner any) {
	had := len(fl.records) > 0
	fl.setRangeLocked(owner, unix.F_UNLCK, LockRange{0, LockEOF}, 0)
	if had && len(fl.records) == 0 {
		ls.records.Add(-1)
	}
	fl.wake()
	ls.putLocked(key, fl)
}
