package gofer

import (
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
// Bounds: maxListed names not yet walked per directory, maxReady ready
// fids per directory; the prefetch goes with the directory's fileState.
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
)

// beginListing is called by Getdents when a listing starts at offset 0:
// names of earlier listings that were never looked up are forgotten (the
// ready ones stay).
func (st *fileState) beginListing(fs *Filesystem) {
	if fs.shared() {
		return
	}
	st.mu.Lock()
	if p := st.pre; p != nil {
		clear(p.listed)
		p.order, p.next = p.order[:0], 0
	} else {
		st.pre = &prefetch{listed: make(map[string]struct{})}
	}
	st.mu.Unlock()
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
	if len(p.order)-p.next >= maxListed {
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
}

// lookupPrefetched returns the node of name if the directory's listing
// let it be walked in a batch (ok false: look it up the usual way).
// Preconditions: the VFS serialises lookups in the directory (its dentry
// lock is held).
func (i *inode) lookupPrefetched(name string) (in *inode, ok bool) {
	st := i.st
	st.mu.Lock()
	p := st.pre
	if p == nil {
		st.mu.Unlock()
		return nil, false
	}
	if r, ok := p.ready[name]; ok {
		delete(p.ready, name)
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
	}
	// name first, then the names listed after the last batch.
	batch := make([]string, 1, gproto.MaxWalkNames)
	batch[0] = name
	delete(p.listed, name)
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
		batch = append(batch, n)
	}
	st.mu.Unlock()
	for _, r := range old {
		i.fs.c.Clunk(r.FID)
	}

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
	if p.ready == nil {
		p.ready = make(map[string]gproto.NameResult, len(res))
	}
	for k, r := range res[1:] {
		if r.Err == 0 {
			p.ready[batch[k+1]] = r
		}
	}
	st.mu.Unlock()
	if res[0].Err != 0 {
		return nil, false
	}
	return i.fs.newPrefetchedInode(res[0], i, name), true
}

// dropPrefetch forgets what the directory's listing prefetched (its names
// changed).
func (st *fileState) dropPrefetch(c *gproto.Client) {
	st.mu.Lock()
	p := st.pre
	st.pre = nil
	st.mu.Unlock()
	if p == nil {
		return
	}
	for _, r := range p.ready {
		c.Clunk(r.FID)
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
	key := fileKey{r.Attr.Dev, r.Attr.Ino}
	fs.mu.Lock()
	st := fs.files[key]
	if st != nil && st.ftype == r.Attr.Mode&unix.S_IFMT {
		st.refs++
		fs.mu.Unlock()
		i := &inode{fs: fs, st: st, parent: parent, name: name}
		i.fid.Store(r.FID)
		return i
	}
	fs.mu.Unlock()
	return fs.newInode(r.FID, &r.Attr, parent, name, -1)
}
