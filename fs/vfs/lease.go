package vfs

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// File leases (fcntl F_SETLEASE/F_GETLEASE), as Linux's fs/locks.c keeps
// them.
//
// A lease belongs to an open file description of a regular file and goes
// with its last reference. A read lease (F_RDLCK) needs the file to be
// open for writing nowhere, its own description included; a write lease
// (F_WRLCK) needs the file to be open nowhere but in its description.
// "Open" is what Linux's i_readcount and i_writecount count: every
// description opened read-only or writable (not O_PATH), however it is
// reached, so the VFS counts the descriptions of each regular file it
// opens (openCounts).
//
// An open(2) for writing (O_WRONLY, O_RDWR) breaks every lease of the
// file, and an open for reading breaks write leases; truncate(2) breaks
// like an open for writing (ftruncate(2) and O_RDONLY|O_TRUNC do not, as
// on Linux). Breaking sends each lease's holder its F_SETSIG signal
// (si_code POLL_MSG, si_fd the descriptor F_SETLEASE was given) or
// SIGIO, to the file's owner, which F_SETLEASE made the caller's process
// when there was none; then the opener waits until no lease conflicts:
// the holder downgrades to a read lease or removes it, the description
// is closed, or the lease-break time passes and the lease is downgraded
// or removed for it. An O_NONBLOCK open fails with EWOULDBLOCK instead
// of waiting (the break goes on). While a break is pending, F_GETLEASE
// tells the type the lease is being broken to. Removing a lease clears
// the file's owner, its F_SETSIG signal and O_ASYNC, as Linux's
// lease_modify does.

// LeaseBreakTime is how long a lease holder has to answer a break
// (Linux's /proc/sys/fs/lease-break-time, 45 seconds by default).
var LeaseBreakTime = 45 * time.Second

// LeaseAsync is implemented by the kernel's state in Async (the file's
// F_SETOWN owner and F_SETSIG signal): the lease's signals go through it.
type LeaseAsync interface {
	// SendSigio sends the owner the file's signal for reason (Poll*),
	// with si_fd fd.
	SendSigio(fd int32, reason int32)
	// LeaseRemoved clears the owner and the F_SETSIG signal.
	LeaseRemoved()
}

// leaseBlocker is implemented by a Context that can wait for a lease
// break (the kernel's Task): like BlockFunc with a timeout, after which
// it returns ETIMEDOUT.
type leaseBlocker interface {
	BlockTimeout(ch <-chan struct{}, d time.Duration) error
}

// lease is one description's lease.
type lease struct {
	fd    *FileDescription
	typ   int16 // F_RDLCK or F_WRLCK
	sigfd int32 // si_fd of the break signal
	// A break to F_RDLCK (downgrade) or F_UNLCK (unlock) is pending until
	// the holder answers or its deadline passes (Linux's
	// FL_DOWNGRADE_PENDING and FL_UNLOCK_PENDING).
	downgrade, unlock     bool
	downgradeAt, unlockAt time.Time
}

// target is F_GETLEASE's answer: the type the lease is being broken to.
func (l *lease) target() int16 {
	switch {
	case l.unlock:
		return unix.F_UNLCK
	case l.downgrade:
		return unix.F_RDLCK
	}
	return l.typ
}

// conflicts reports whether the lease stands in the way of an open for
// writing (write) or reading.
func (l *lease) conflicts(write bool) bool { return write || l.typ == unix.F_WRLCK }

// leaseFile holds the leases of one file.
type leaseFile struct {
	leases []*lease
	// changed is closed, and replaced, whenever a lease changes, waking
	// the openers waiting for a break.
	changed chan struct{}
}

func (lf *leaseFile) wake() {
	if lf.changed != nil {
		close(lf.changed)
		lf.changed = nil
	}
}

func (lf *leaseFile) find(fd *FileDescription) int {
	for i, l := range lf.leases {
		if l.fd == fd {
			return i
		}
	}
	return -1
}

// openCount counts the open descriptions of a regular file (Linux's
// i_readcount and i_writecount).
type openCount struct {
	readers, writers int
}

const openShards = 32

type openShard struct {
	mu sync.Mutex
	m  map[Inode]*openCount
}

// leaseTable is the VFS's table of leases and open counts.
type leaseTable struct {
	mu sync.Mutex
	// files maps a file to its leases while it has any; n is len(files),
	// read without mu by the opens that have nothing to break.
	files map[Inode]*leaseFile
	n     atomic.Int32

	seed   maphash.Seed
	shards [openShards]openShard
}

func (lt *leaseTable) shard(ino Inode) *openShard {
	return &lt.shards[maphash.Comparable(lt.seed, ino)%openShards]
}

// The kinds of open a description is counted as (FileDescription.counted).
const (
	countedNone = iota
	countedReader
	countedWriter
)

// openKind is how an open with flags of a file of type ftype counts.
func openKind(ftype, flags uint32) uint8 {
	if ftype != unix.S_IFREG || flags&unix.O_PATH != 0 {
		return countedNone
	}
	if flags&unix.O_ACCMODE == unix.O_RDONLY {
		return countedReader
	}
	return countedWriter
}

// OpenCounts are the open descriptions of a regular file, by kind, which
// leases must know. A filesystem's inode embeds it so that an open and
// its last close cost an atomic add each; the files of other inodes are
// counted in the VFS's table, under a lock and in a map.
type OpenCounts struct {
	readers, writers atomic.Int32
}

func (c *OpenCounts) openCounts() *OpenCounts { return c }

// openCounter is implemented by the inodes that embed OpenCounts.
type openCounter interface{ openCounts() *OpenCounts }

func (lt *leaseTable) addOpen(ino Inode, kind uint8, delta int) {
	if kind == countedNone {
		return
	}
	if oc, ok := ino.(openCounter); ok {
		c := oc.openCounts()
		if kind == countedReader {
			c.readers.Add(int32(delta))
		} else {
			c.writers.Add(int32(delta))
		}
		return
	}
	s := lt.shard(ino)
	s.mu.Lock()
	c := s.m[ino]
	if c == nil {
		if s.m == nil {
			s.m = make(map[Inode]*openCount)
		}
		c = &openCount{}
		s.m[ino] = c
	}
	if kind == countedReader {
		c.readers += delta
	} else {
		c.writers += delta
	}
	if c.readers == 0 && c.writers == 0 {
		delete(s.m, ino)
	}
	s.mu.Unlock()
}

func (lt *leaseTable) opens(ino Inode) openCount {
	if oc, ok := ino.(openCounter); ok {
		c := oc.openCounts()
		return openCount{readers: int(c.readers.Load()), writers: int(c.writers.Load())}
	}
	s := lt.shard(ino)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.m[ino]; c != nil {
		return *c
	}
	return openCount{}
}

// leaseChanges are the effects of lease changes that must happen without
// leaseTable.mu: the signals of a break and the owners of removed leases.
type leaseChanges struct {
	broken  []*lease
	removed []*FileDescription
}

func (c *leaseChanges) apply() {
	for _, l := range c.broken {
		if a, ok := l.fd.Async(nil).(LeaseAsync); ok {
			a.SendSigio(l.sigfd, PollMsg)
		}
	}
	for _, fd := range c.removed {
		if a, ok := fd.Async(nil).(LeaseAsync); ok {
			a.LeaseRemoved()
		}
		fd.SetAsyncFlag(false)
	}
}

// modifyLocked changes l to typ (F_UNLCK removes it), as Linux's
// lease_modify: an answer to a pending break ends it.
func (lt *leaseTable) modifyLocked(ino Inode, lf *leaseFile, l *lease, typ int16, ch *leaseChanges) {
	switch typ {
	case unix.F_UNLCK:
		l.unlock = false
		fallthrough
	case unix.F_RDLCK:
		l.downgrade = false
	}
	lf.wake()
	if typ != unix.F_UNLCK {
		l.typ = typ
		return
	}
	if i := lf.find(l.fd); i >= 0 {
		lf.leases = append(lf.leases[:i], lf.leases[i+1:]...)
	}
	ch.removed = append(ch.removed, l.fd)
	lt.putLocked(ino, lf)
}

// putLocked forgets lf once it has no leases.
func (lt *leaseTable) putLocked(ino Inode, lf *leaseFile) {
	if len(lf.leases) == 0 && lt.files[ino] == lf {
		lf.wake()
		delete(lt.files, ino)
		lt.n.Add(-1)
	}
}

// timeOutLocked ends the breaks whose time has passed (time_out_leases).
func (lt *leaseTable) timeOutLocked(ino Inode, lf *leaseFile, now time.Time, ch *leaseChanges) {
	for _, l := range append([]*lease(nil), lf.leases...) {
		if l.downgrade && !now.Before(l.downgradeAt) {
			lt.modifyLocked(ino, lf, l, unix.F_RDLCK, ch)
		}
		if l.unlock && !now.Before(l.unlockAt) {
			lt.modifyLocked(ino, lf, l, unix.F_UNLCK, ch)
		}
	}
}

// leaseInode returns fd's file for leases: nil for a file without a
// dentry.
func (fd *FileDescription) leaseInode() (*leaseTable, Inode) {
	if fd.vd.dentry == nil || fd.vd.mount == nil {
		return nil, nil
	}
	return &fd.vd.mount.vfs.leases, fd.vd.dentry.inode
}

// GetLease implements F_GETLEASE.
func (fd *FileDescription) GetLease() int16 {
	lt, ino := fd.leaseInode()
	if lt == nil || !fd.hasLease.Load() {
		return unix.F_UNLCK
	}
	var ch leaseChanges
	defer ch.apply()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lf := lt.files[ino]
	if lf == nil {
		return unix.F_UNLCK
	}
	lt.timeOutLocked(ino, lf, time.Now(), &ch)
	if i := lf.find(fd); i >= 0 {
		return lf.leases[i].target()
	}
	return unix.F_UNLCK
}

// SetLease implements F_SETLEASE on fd, reached through descriptor sigfd,
// for a caller with creds. typ F_UNLCK removes the lease (EAGAIN if
// there is none). After a lease was set, the caller makes sure the file
// has an owner for the break's signal (Linux's lease_setup).
func (fd *FileDescription) SetLease(creds *auth.Credentials, sigfd int32, typ int16) error {
	if typ != unix.F_RDLCK && typ != unix.F_WRLCK && typ != unix.F_UNLCK {
		return unix.EINVAL
	}
	lt, ino := fd.leaseInode()
	if lt == nil {
		return unix.EINVAL
	}
	mode, uid, _ := ino.Perms()
	if creds.FilesystemKUID != uid && !creds.HasCapability(auth.CAP_LEASE) {
		return unix.EACCES
	}
	if mode&unix.S_IFMT != unix.S_IFREG {
		return unix.EINVAL
	}
	var ch leaseChanges
	defer ch.apply()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lf := lt.files[ino]
	if lf != nil {
		lt.timeOutLocked(ino, lf, time.Now(), &ch)
		lf = lt.files[ino]
	}
	if typ == unix.F_UNLCK {
		if lf == nil {
			return unix.EAGAIN
		}
		i := lf.find(fd)
		if i < 0 {
			return unix.EAGAIN
		}
		lt.modifyLocked(ino, lf, lf.leases[i], unix.F_UNLCK, &ch)
		return nil
	}
	if lf == nil {
		lf = &leaseFile{}
		if lt.files == nil {
			lt.files = make(map[Inode]*leaseFile)
		}
		lt.files[ino] = lf
		lt.n.Add(1)
	}
	var mine *lease
	for _, l := range lf.leases {
		if l.fd == fd {
			mine = l
			continue
		}
		// No write lease beside another lease, and no new lease while
		// another is being broken for a writer.
		if typ == unix.F_WRLCK || l.unlock {
			lt.putLocked(ino, lf)
			return unix.EAGAIN
		}
	}
	fresh := mine == nil
	if fresh {
		// Insert first, then look at the open counts: an open that
		// counted itself after this check finds the lease to break
		// (Linux's second check_conflicting_open).
		mine = &lease{fd: fd, typ: typ}
		lf.leases = append(lf.leases, mine)
	}
	if err := lt.conflictingOpen(fd, ino, typ); err != nil {
		if fresh {
			lf.leases = lf.leases[:len(lf.leases)-1]
			lt.putLocked(ino, lf)
		}
		return err
	}
	if !fresh {
		lt.modifyLocked(ino, lf, mine, typ, &ch)
	}
	mine.sigfd = sigfd
	fd.hasLease.Store(true)
	fd.SetAsyncFlag(true)
	return nil
}

// conflictingOpen is Linux's check_conflicting_open: a read lease needs
// no writer, a write lease no other open description.
func (lt *leaseTable) conflictingOpen(fd *FileDescription, ino Inode, typ int16) error {
	c := lt.opens(ino)
	if typ == unix.F_RDLCK {
		if c.writers > 0 {
			return unix.EAGAIN
		}
		return nil
	}
	switch fd.counted {
	case countedReader:
		c.readers--
	case countedWriter:
		c.writers--
	}
	if c.readers != 0 || c.writers != 0 {
		return unix.EAGAIN
	}
	return nil
}

// releaseLease drops fd's lease with its last reference.
func (fd *FileDescription) releaseLease() {
	lt, ino := fd.leaseInode()
	if lt == nil {
		return
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lf := lt.files[ino]
	if lf == nil {
		return
	}
	if i := lf.find(fd); i >= 0 {
		lf.leases = append(lf.leases[:i], lf.leases[i+1:]...)
		lf.wake()
		lt.putLocked(ino, lf)
	}
}

// breakLease breaks the leases of ino that an open with flags (write: an
// open for writing) conflicts with, and waits, through ctx, until none
// does (Linux's __break_lease). The caller has counted the open.
func (lt *leaseTable) breakLease(ctx Context, ino Inode, write, nonblock bool) error {
	if lt.n.Load() == 0 {
		return nil
	}
	var ch leaseChanges
	lt.mu.Lock()
	lf := lt.files[ino]
	if lf == nil {
		lt.mu.Unlock()
		return nil
	}
	now := time.Now()
	lt.timeOutLocked(ino, lf, now, &ch)
	started := false
	for {
		if lt.files[ino] != lf {
			// Every lease went.
			break
		}
		var deadline time.Time
		conflict := false
		for _, l := range lf.leases {
			if !l.conflicts(write) {
				continue
			}
			conflict = true
			if !started {
				at := now.Add(LeaseBreakTime)
				if write {
					if !l.unlock {
						l.unlock, l.unlockAt = true, at
						ch.broken = append(ch.broken, l)
					}
				} else if !l.unlock && !l.downgrade {
					l.downgrade, l.downgradeAt = true, at
					ch.broken = append(ch.broken, l)
				}
			}
			if l.downgrade {
				deadline = earliest(deadline, l.downgradeAt)
			}
			if l.unlock {
				deadline = earliest(deadline, l.unlockAt)
			}
		}
		started = true
		if !conflict {
			break
		}
		b, ok := ctx.(leaseBlocker)
		if nonblock || !ok {
			lt.mu.Unlock()
			ch.apply()
			if !ok {
				// Nobody to wait: the kernel's own opens go ahead.
				return nil
			}
			return unix.EWOULDBLOCK
		}
		if lf.changed == nil {
			lf.changed = make(chan struct{})
		}
		wait := lf.changed
		lt.mu.Unlock()
		ch.apply()
		ch = leaseChanges{}
		d := time.Until(deadline)
		if deadline.IsZero() {
			d = LeaseBreakTime
		}
		err := b.BlockTimeout(wait, max(d, time.Millisecond))
		if err != nil && err != unix.ETIMEDOUT {
			return err
		}
		lt.mu.Lock()
		lf = lt.files[ino]
		if lf == nil {
			break
		}
		now = time.Now()
		lt.timeOutLocked(ino, lf, now, &ch)
	}
	lt.mu.Unlock()
	ch.apply()
	return nil
}

// earliest returns the earlier of deadline (zero: none yet) and at.
func earliest(deadline, at time.Time) time.Time {
	if deadline.IsZero() || at.Before(deadline) {
		return at
	}
	return deadline
}

// breakLeaseForOpen counts an open of d with flags and breaks the leases
// it conflicts with; on success the caller must record the count in the
// description (or drop it with dropOpen).
func (vfs *VirtualFilesystem) breakLeaseForOpen(ctx Context, d *Dentry, flags uint32) (uint8, error) {
	kind := openKind(d.ftype, flags)
	if kind == countedNone {
		return kind, nil
	}
	vfs.leases.addOpen(d.inode, kind, 1)
	if err := vfs.leases.breakLease(ctx, d.inode, kind == countedWriter, flags&unix.O_NONBLOCK != 0); err != nil {
		vfs.leases.addOpen(d.inode, kind, -1)
		return countedNone, err
	}
	return kind, nil
}

// releaseOpen drops fd's open count and lease with its last reference.
func (fd *FileDescription) releaseOpen() {
	if fd.hasLease.Load() {
		fd.releaseLease()
	}
	if lt, ino := fd.leaseInode(); lt != nil && fd.counted != countedNone {
		lt.addOpen(ino, fd.counted, -1)
	}
}
