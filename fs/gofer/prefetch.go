package gofer

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// prefetch lets the lookups that follow a directory listing share round
// trips, in exclusive mode: a program that lists a directory usually goes
// on to stat or open its entries (find, ls -l, du, a shell's glob), and
// each lookup of a name not yet in the dentry cache would otherwise be one
// gofer walk. Names seen by getdents are noted as listed; the first lookup
// of a listed name walks it together with up to MaxWalkNames-1 other
// listed names in one TWalkNames, and keeps the fids and attributes of the
// others ready for their own lookups.
//
// A ready entry is only good while the directory is unchanged: any change
// of its names by the sandbox (create, link, unlink, rename: they mark the
// directory stale) drops the whole prefetch, clunking the ready fids. No
// other writer exists in exclusive mode. A ready entry never replaces what
// the sandbox knows of a file it already holds (another name of it may
// have been written since the walk): the attributes of an existing
// fileState win.
//
// Bounds: maxListed names not yet walked per directory and maxListedAll in
// all, maxReady ready fids per directory and maxReadyAll in all; the
// prefetch goes with the directory's fileState.
//
// A prefetch is the fileState's pre; its fields are protected by the
// fileState's mu. Its ready entries are clunked outside that lock.
type prefetch struct {
	// listed are names seen by getdents and not yet walked, in
	// listing order (order; next is where the next batch starts).
	listed map[string]struct{}
	order  []string
	next   int
	// ready are names walked for a batch and not yet looked up.
	ready map[string]gproto.NameResult
}

const (
	maxListed = 8192
	maxReady  = 2 * gproto.MaxWalkNames
	// maxReadyAll bounds the ready entries of the whole filesystem
	// (each holds a gofer fid, and a directory's an open descriptor in
	// the gofer).
	maxReadyAll = 8192
	// maxListedAll bounds the names noted, not yet walked, of the whole
	// filesystem (listings never followed by lookups leave theirs until
	// the directory is listed again).
	maxListedAll = 1 << 16
)

// fsPrefetch is a filesystem's part of the prefetch state.
type fsPrefetch struct {
	// walk says that listings are followed by lookups of their
	// entries, so that listings look them up as they go.
	walk atomic.Bool
	// ready counts the ready entries of every directory, listed their
	// names noted and not yet walked.
	ready, listed atomic.Int64
}

// addReady adds one ready entry, unless the filesystem has maxReadyAll
// already (then listings stop walking: their entries are not used).
func (pf *fsPrefetch) addReady() bool {
	if pf.ready.Add(1) > maxReadyAll {
		pf.ready.Add(-1)
		pf.walk.Store(false)
		return false
	}
	return true
}

// beginListing is called by Getdents when a listing starts at offset 0:
// names of earlier listings that were never looked up are forgotten (the
// ready ones stay).
func (st *fileState) beginListing(fs *Filesystem) {
	if fs.shared() {
		return
	}
	st.mu.Lock()
	if p := st.pre; p != nil {
		fs.pf.listed.Add(-int64(len(p.listed)))
		clear(p.listed)
		p.order, p.next = p.order[:0], 0
		if len(p.ready) >= unusedListing {
			// Walked and never looked up: listings here are not
			// followed by lookups.
			fs.pf.walk.Store(false)
		}
	} else {
		st.pre = &prefetch{listed: make(map[string]struct{})}
	}
	st.mu.Unlock()
}

// unusedListing is how many ready entries left unused by a listing stop
// the walking of listings.
const unusedListing = 32

// walkListing reports whether the listing of f at off looks its entries
// up as it goes: decided when it starts at offset 0, kept for its other
// parts.
func (f *dirFile) walkListing(off int64) bool {
	fs := f.inode.fs
	st := f.inode.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if off == 0 {
		f.walking = !fs.shared() && fs.pf.walk.Load()
	}
	return f.walking
}

// readyListed takes the lookups that came with the records b (one result
// per record but "." and "..", in order) as ready entries, clunking those
// beyond maxReady.
func (st *fileState) readyListed(fs *Filesystem, b []byte, res []gproto.NameResult) error {
	st.mu.Lock()
	p := st.pre
	k := 0
	var extra []gproto.NameResult
	for len(b) >= 19 {
		reclen := int(le16(b[16:]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		name := b[19:reclen]
		for j, c := range name {
			if c == 0 {
				name = name[:j]
				break
			}
		}
		b = b[reclen:]
		if string(name) == "." || string(name) == ".." {
			continue
		}
		if k == len(res) {
			break
		}
		r := res[k]
		k++
		if r.Err != 0 {
			continue
		}
		if p == nil {
			extra = append(extra, r)
			continue
		}
		if out, ok := p.put(fs, string(name), r); !ok {
			extra = append(extra, out)
		}
	}
	extra = append(extra, res[k:]...)
	st.mu.Unlock()
	clunkResults(fs.c, extra)
	if k != len(res) {
		return unix.EIO
	}
	return nil
}

// keep notes, in exclusive mode, the records of a gofer reply from host
// offset off that the caller did not take (rest, empty for none) and
// whether the directory ends after them: until the directory's names
// change (which drops its prefetch), a getdents at off is served from
// them without a round trip.
func (f *dirFile) keep(off int64, rest []byte, eof bool) {
	if f.inode.fs.shared() {
		return
	}
	st := f.inode.st
	st.mu.Lock()
	f.keptOff, f.keptEOF, f.keptPre = off, eof, st.pre
	f.keptRecs = append(f.keptRecs[:0], rest...)
	st.mu.Unlock()
}

// kept returns what keep noted for a getdents at off, if still good. The
// records are f's own: the caller may use them until its next call on f.
func (f *dirFile) kept(off int64) (rest []byte, eof, ok bool) {
	st := f.inode.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if f.keptPre == nil || f.keptPre != st.pre || f.keptOff != off {
		return nil, false, false
	}
	rest, eof = f.keptRecs, f.keptEOF
	f.keptPre = nil
	return rest, eof, true
}

// noteListed is called by Getdents for each name it returns.
func (st *fileState) noteListed(fs *Filesystem, name string) {
	if fs.shared() || name == "." || name == ".." {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.pre
	if p == nil {
		p = &prefetch{listed: make(map[string]struct{})}
		st.pre = p
	}
	if p.next == len(p.order) {
		// Everything listed so far was walked: start the list over.
		p.order, p.next = p.order[:0], 0
	}
	if len(p.order)-p.next >= maxListed || fs.pf.listed.Load() >= maxListedAll {
		return
	}
	if _, ok := p.listed[name]; ok {
		return
	}
	if _, ok := p.ready[name]; ok {
		return
	}
	p.listed[name] = struct{}{}
	p.order = append(p.order, name)
	fs.pf.listed.Add(1)
}

// lookupPrefetched returns the node of name if the directory's listing
// let it be walked in a batch (ok false: look it up the usual way).
// Preconditions: the VFS serialises lookups in the directory (its dentry
// lock is held).
func (i *inode) lookupPrefetched(name string) (in *inode, ok bool) {
	st, fs := i.st, i.fs
	st.mu.Lock()
	p := st.pre
	if p == nil {
		st.mu.Unlock()
		return nil, false
	}
	if r, ok := p.ready[name]; ok {
		p.take(fs, name)
		st.mu.Unlock()
		return i.fs.newPrefetchedInode(r, i, name), true
	}
	if _, ok := p.listed[name]; !ok {
		st.mu.Unlock()
		return nil, false
	}
	// Ready entries that stay are names the dentry cache already held
	// when they were walked: make room.
	var old map[string]gproto.NameResult
	if len(p.ready) > maxReady-gproto.MaxWalkNames {
		old, p.ready = p.ready, nil
		fs.pf.ready.Add(-int64(len(old)))
	}
	// name first, then the names listed after the last batch.
	batch := make([]string, 1, gproto.MaxWalkNames)
	batch[0] = name
	delete(p.listed, name)
	fs.pf.listed.Add(-1)
	size := 4 + len(name)
	for ; p.next < len(p.order) && len(batch) < gproto.MaxWalkNames; p.next++ {
		n := p.order[p.next]
		if _, ok := p.listed[n]; !ok {
			continue
		}
		if size+4+len(n) > gproto.MaxWalkNamesBytes {
			break
		}
		size += 4 + len(n)
		delete(p.listed, n)
		fs.pf.listed.Add(-1)
		batch = append(batch, n)
	}
	st.mu.Unlock()
	for _, r := range old {
		i.fs.c.Clunk(r.FID)
	}
	i.fs.pf.walk.Store(true)

	res, err := i.fs.c.WalkNames(i.fid.Load(), batch, make([]gproto.NameResult, 0, len(batch)))
	if err != nil {
		return nil, false
	}
	st.mu.Lock()
	if st.pre != p {
		// The directory changed meanwhile: what was walked may be
		// stale.
		st.mu.Unlock()
		clunkResults(i.fs.c, res)
		return nil, false
	}
	var extra []gproto.NameResult
	for k, r := range res[1:] {
		if r.Err == 0 {
			if out, ok := p.put(fs, batch[k+1], r); !ok {
				extra = append(extra, out)
			}
		}
	}
	st.mu.Unlock()
	clunkResults(fs.c, extra)
	if res[0].Err != 0 {
		return nil, false
	}
	return i.fs.newPrefetchedInode(res[0], i, name), true
}

// dropPrefetch forgets what the directory's listing prefetched (its names
// changed).
func (st *fileState) dropPrefetch(fs *Filesystem) {
	st.mu.Lock()
	p := st.pre
	st.pre = nil
	st.mu.Unlock()
	if p == nil {
		return
	}
	fs.pf.ready.Add(-int64(len(p.ready)))
	fs.pf.listed.Add(-int64(len(p.listed)))
	for _, r := range p.ready {
		fs.c.Clunk(r.FID)
	}
}

// put makes r the ready entry of name; if ok is false, out is an entry the
// caller must clunk (one replaced, or r itself when p or the filesystem
// holds as many as they may). st.mu is held.
func (p *prefetch) put(fs *Filesystem, name string, r gproto.NameResult) (out gproto.NameResult, ok bool) {
	if old, dup := p.ready[name]; dup {
		p.ready[name] = r
		return old, false
	}
	if len(p.ready) >= maxReady || !fs.pf.addReady() {
		return r, false
	}
	if p.ready == nil {
		p.ready = make(map[string]gproto.NameResult)
	}
	p.ready[name] = r
	return gproto.NameResult{}, true
}

// take forgets the ready entry of name (now the caller's). st.mu is held.
func (p *prefetch) take(fs *Filesystem, name string) {
	if _, ok := p.ready[name]; ok {
		delete(p.ready, name)
		fs.pf.ready.Add(-1)
	}
}

func clunkResults(c *gproto.Client, res []gproto.NameResult) {
	for _, r := range res {
		if r.Err == 0 {
			c.Clunk(r.FID)
		}
	}
}

// newPrefetchedInode makes the node of a name walked in a batch. The
// attributes of a file the sandbox already holds are kept (they may be
// newer than the batch's); others come from the batch.
func (fs *Filesystem) newPrefetchedInode(r gproto.NameResult, parent *inode, name string) *inode {
	a := r.Attr
	fs.mu.Lock()
	st := fs.files[fileKey{a.Dev, a.Ino}]
	fs.mu.Unlock()
	stale := false
	if st != nil && st.ftype == a.Mode&unix.S_IFMT {
		st.mu.Lock()
		hs := st.attr
		stale = st.stale
		st.mu.Unlock()
		a = gproto.AttrFromStat(&hs)
	}
	i := fs.newInode(r.FID, &a, parent, name, -1)
	if stale {
		i.markStale()
	}
	return i
}
