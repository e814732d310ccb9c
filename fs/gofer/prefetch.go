package gofer

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// prefetch lets the lookups that follow a directory listing share round
// trips, in exclusive mode: a program that lists a directory often goes on
// to stat or open its entries (find, ls -l, du, a shell's glob), and each
// lookup of a name not yet in the dentry cache would otherwise be one
// gofer walk. Names seen by getdents are noted as listed; a lookup of a
// listed name walks it together with other listed names in one
// TWalkNames, and keeps the fids and attributes of the others ready for
// their own lookups.
//
// Walking a name nobody looks up costs the gofer a stat (and an open, for
// a directory), a fraction of a round trip, and many programs list a
// directory to look up a few of its names: an interpreter's import system
// lists each directory on its path once, then stats the candidates of
// each import, a few of hundreds. So a batch walks, besides the name
// looked up, as many listed names as the listing's names were looked up
// before (prefetch.looked), up to MaxWalkNames in all: a listing whose
// names are looked up m times costs at most m(m+1)/2 walks, and one
// looked up in full, in any order (ls -l sorts), about sqrt(2n) round
// trips. While most of what the filesystem walked ahead lately was looked
// up (a third: fsPrefetch.scanning; ls -l, du, find -ls), batches are
// full, and listings walk their entries as they go (TGetdentsWalk).
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
	// looked counts the lookups of this listing's names so far, hits
	// those answered from ready entries since the last batch.
	looked, hits int
	// xseq is the filesystem's count of setxattr requests (xattr.go) when
	// the oldest walk whose results are ready began: their NoXattr holds
	// only while it has not changed.
	xseq uint64
	// ahead holds, for a ready entry that a path walk made (putAhead),
	// what that walk reached below it: it goes with the entry to the
	// node it becomes, or is clunked with it.
	ahead map[string]pathAhead
}

// pathAhead is what a path walk (inode.walkAhead) reached below a
// directory: res[k] is the node of names[k] (each in the one before),
// and, if missing, names[len(res)] is absent from the last one reached.
type pathAhead struct {
	names   []string
	res     []gproto.WalkResult
	missing bool
}

// fids returns the gofer fids w holds.
func (w pathAhead) fids() []uint64 {
	fids := make([]uint64, len(w.res))
	for k, r := range w.res {
		fids[k] = r.FID
	}
	return fids
}

// putAhead keeps w, a path walk's results below the directory, for the
// lookups of its names: the first becomes a ready entry (as if a listing
// had prefetched it), with the rest of the walk (prefetch.ahead), which
// its node takes over when it is looked up; a first name the walk found
// missing is noted missing. What finds no room is clunked.
func (st *fileState) putAhead(fs *Filesystem, w pathAhead) {
	if len(w.res) == 0 {
		if w.missing && len(w.names) > 0 {
			st.noteMissing(fs, w.names[0])
		}
		return
	}
	name := w.names[0]
	r := gproto.NameResult{FID: w.res[0].FID, Attr: w.res[0].Attr}
	rest := pathAhead{names: w.names[1:], res: w.res[1:], missing: w.missing}
	var clunk []uint64
	st.mu.Lock()
	p := st.pre
	if p == nil {
		p = &prefetch{listed: make(map[string]struct{})}
		st.pre = p
	}
	out, ok := p.put(fs, name, r)
	if !ok {
		clunk = append(clunk, out.FID)
	}
	if old, had := p.ahead[name]; had {
		delete(p.ahead, name)
		clunk = append(clunk, old.fids()...)
	}
	switch {
	case !ok && out.FID == r.FID:
		// No room: the walk's results below name go too.
		clunk = append(clunk, rest.fids()...)
	case len(rest.res) > 0 || rest.missing:
		if p.ahead == nil {
			p.ahead = make(map[string]pathAhead)
		}
		p.ahead[name] = rest
	}
	st.mu.Unlock()
	if len(clunk) > 0 {
		fs.c.ClunkMany(clunk)
	}
}

// dropAhead forgets the path walks kept with the ready entries and returns
// their fids, to be clunked. st.mu is held.
func (p *prefetch) dropAhead() []uint64 {
	var fids []uint64
	for _, w := range p.ahead {
		fids = append(fids, w.fids()...)
	}
	p.ahead = nil
	return fids
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
	// ready counts the ready entries of every directory, listed their
	// names noted and not yet walked.
	ready, listed atomic.Int64
	// walked counts the names walked ahead of a lookup (by batches and
	// walking listings), used those of them looked up since; both are
	// halved when walked passes walkedWindow, so that they describe
	// the recent past.
	walked, used atomic.Int64
}

const (
	// walkedWindow is how many names walked ahead scanning looks
	// back on (about: it halves the counts).
	walkedWindow = 1024
	// minWalked is how many names must have been walked ahead before
	// listings walk theirs: a lone lookup proves nothing.
	minWalked = 32
)

// addReady adds one ready entry, unless the filesystem has maxReadyAll
// already.
func (pf *fsPrefetch) addReady() bool {
	if pf.ready.Add(1) > maxReadyAll {
		pf.ready.Add(-1)
		return false
	}
	return true
}

// noteWalked counts n names walked ahead of their lookups.
func (pf *fsPrefetch) noteWalked(n int) {
	if pf.walked.Add(int64(n)) > walkedWindow {
		// Racing halvings only make the window shorter for a while.
		pf.walked.Store(pf.walked.Load() / 2)
		pf.used.Store(pf.used.Load() / 2)
	}
}

// scanning reports whether the filesystem's listings are followed by
// lookups of many of their names: at least a third of the names walked
// ahead lately were looked up, where walking ahead pays (then batches are
// full, and listings walk their entries as they go, if the filesystem has
// room for more ready entries).
func (pf *fsPrefetch) scanning() bool {
	w := pf.walked.Load()
	return w >= minWalked && 3*pf.used.Load() >= w
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
		p.looked = 0
	} else {
		st.pre = &prefetch{listed: make(map[string]struct{})}
	}
	st.mu.Unlock()
}

// walkListing reports whether the listing of f at off looks its entries
// up as it goes: decided when it starts at offset 0, kept for its other
// parts.
func (f *dirFile) walkListing(off int64) bool {
	fs := f.inode.fs
	st := f.inode.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if off == 0 {
		f.walking = !fs.shared() && fs.pf.scanning() && fs.pf.ready.Load() < maxReadyAll
	}
	return f.walking
}

// readyListed takes the lookups that came with the records b (one result
// per record but "." and "..", in order) as ready entries, clunking those
// beyond maxReady; the walk began when the count of setxattr requests was
// seq.
func (st *fileState) readyListed(fs *Filesystem, b []byte, res []gproto.NameResult, seq uint64) error {
	st.mu.Lock()
	p := st.pre
	if p != nil {
		p.noteWalk(seq)
	}
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
	fs.pf.noteWalked(len(res))
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
		w, walked := p.ahead[name]
		delete(p.ahead, name)
		p.looked++
		p.hits++
		seq := p.xseq
		st.mu.Unlock()
		fs.pf.used.Add(1)
		c := i.fs.newPrefetchedInode(r, i, name, seq)
		if walked {
			c.st.putAhead(fs, w)
		}
		return c, true
	}
	if _, ok := p.listed[name]; !ok {
		st.mu.Unlock()
		return nil, false
	}
	// name first, then the names listed after the last batch, as many
	// as the listing's use so far allows (see prefetch).
	width := gproto.MaxWalkNames
	if !fs.pf.scanning() {
		width = min(1+p.looked, width)
	}
	p.looked++
	// Without room for the batch: ready entries none of which was taken
	// since the last batch are names the dentry cache already held when
	// they were walked, or that nobody looks up; they go. Otherwise the
	// lookups are taking them (a scan in another order than the
	// listing's), and the batch only fills the room they left.
	var old map[string]gproto.NameResult
	var oldAhead []uint64
	if len(p.ready)+width-1 > maxReady {
		if p.hits == 0 {
			old, p.ready = p.ready, nil
			oldAhead = p.dropAhead()
			fs.pf.ready.Add(-int64(len(old)))
		} else {
			width = max(1, maxReady-len(p.ready)+1)
		}
	}
	p.hits = 0
	batch := make([]string, 1, width)
	batch[0] = name
	delete(p.listed, name)
	fs.pf.listed.Add(-1)
	size := 4 + len(name)
	for ; p.next < len(p.order) && len(batch) < width; p.next++ {
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
	clunkReady(i.fs.c, old)
	if len(oldAhead) > 0 {
		i.fs.c.ClunkMany(oldAhead)
	}
	fs.pf.noteWalked(len(batch) - 1)

	flags, seq := fs.walkFlags(), fs.xa.seq.Load()
	res, err := i.fs.c.WalkNames(i.fid.Load(), batch, flags, make([]gproto.NameResult, 0, len(batch)))
	if err != nil {
		return nil, false
	}
	fs.walked(flags, len(batch))
	st.mu.Lock()
	if st.pre != p {
		// The directory changed meanwhile: what was walked may be
		// stale.
		st.mu.Unlock()
		clunkResults(i.fs.c, res)
		return nil, false
	}
	var extra []gproto.NameResult
	p.noteWalk(seq)
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
	return i.fs.newPrefetchedInode(res[0], i, name, seq), true
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
	clunkReady(fs.c, p.ready)
	if fids := p.dropAhead(); len(fids) > 0 {
		fs.c.ClunkMany(fids)
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

// clunkResults releases the fids of the walk results res, in one message
// (Client.ClunkMany).
func clunkResults(c *gproto.Client, res []gproto.NameResult) {
	fids := make([]uint64, 0, len(res))
	for _, r := range res {
		if r.Err == 0 {
			fids = append(fids, r.FID)
		}
	}
	c.ClunkMany(fids)
}

// clunkReady releases the fids of ready entries, in one message.
func clunkReady(c *gproto.Client, ready map[string]gproto.NameResult) {
	if len(ready) == 0 {
		return
	}
	fids := make([]uint64, 0, len(ready))
	for _, r := range ready {
		fids = append(fids, r.FID)
	}
	c.ClunkMany(fids)
}

// newPrefetchedInode makes the node of a name walked in a batch that began
// when the count of setxattr requests was seq. The attributes of a file
// the sandbox already holds are kept (they may be newer than the batch's);
// others come from the batch.
func (fs *Filesystem) newPrefetchedInode(r gproto.NameResult, parent *inode, name string, seq uint64) *inode {
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
	fs.noteNoXattr(i.st, &r, seq)
	return i
}

// noteWalk notes that results of a walk that began when the count of
// setxattr requests was seq become ready: xseq stays the oldest such
// walk's while ready entries are left. st.mu is held.
func (p *prefetch) noteWalk(seq uint64) {
	if len(p.ready) == 0 || seq < p.xseq {
		p.xseq = seq
	}
}
