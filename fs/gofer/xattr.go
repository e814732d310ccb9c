package gofer

import (
	"sync/atomic"

	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// Files known to have no extended attributes. ls -l asks for every file's
// security.selinux (and cp -a, rsync -X, tar --xattrs, Python's
// shutil.copy2 list every file's attributes); almost no file has any, and
// each question would be a gofer round trip. So, in exclusive mode, once
// the sandbox has asked for attributes lately (xattrWant), the batches
// and walking listings of prefetch.go ask the gofer to say of each file it
// walks whether it has none (gofer.WalkXattrs), and a fileState made from
// such a result notes it (noXattr): its getxattr is ENODATA and its
// listxattr empty without a round trip, until the sandbox sets one.
//
// A walk's answer is as old as the walk. The sandbox's own setxattr, the
// only other writer in exclusive mode, counts in xattrSeq before it goes
// to the gofer; a walk's answer is used only if none did since the walk
// began (prefetch.xseq), and noXattr is set and cleared under the
// fileState's lock, after the setxattr's count, so that no answer older
// than a setxattr outlives it.

// fsXattrs is a filesystem's part of that state.
type fsXattrs struct {
	// want is how many more names walks ask about: xattrWindow after
	// each attribute request that went to the gofer, less each name
	// asked about since, so that a sandbox that stopped asking soon stops
	// paying the gofer's listxattrat per walked name.
	want atomic.Int64
	// seq counts the sandbox's setxattr requests.
	seq atomic.Uint64
	// calls counts the attribute requests that went to the gofer (for
	// tests).
	calls atomic.Int64
}

// xattrWindow is how many walked names one attribute request that went to
// the gofer makes walks ask about.
const xattrWindow = 4096

// walkFlags returns the flags of a walk: WalkXattrs while the sandbox asks
// for attributes (in exclusive mode). walked counts the names a walk with
// WalkXattrs asked about.
func (fs *Filesystem) walkFlags() uint32 {
	if fs.shared() || fs.xa.want.Load() <= 0 {
		return 0
	}
	return gproto.WalkXattrs
}

func (fs *Filesystem) walked(flags uint32, n int) {
	if flags&gproto.WalkXattrs != 0 {
		fs.xa.want.Add(-int64(n))
	}
}

// xattrAsked notes an attribute request that goes to the gofer.
func (fs *Filesystem) xattrAsked() {
	fs.xa.calls.Add(1)
	if !fs.shared() {
		fs.xa.want.Store(xattrWindow)
	}
}

// noteNoXattr sets st.noXattr if the walk result r, of a walk that began
// when xattrSeq was seq, says the file had no attributes, and no setxattr
// came since.
func (fs *Filesystem) noteNoXattr(st *fileState, r *gproto.NameResult, seq uint64) {
	if !r.NoXattr || fs.shared() {
		return
	}
	st.mu.Lock()
	if fs.xa.seq.Load() == seq {
		st.noXattr = true
	}
	st.mu.Unlock()
}

// knownNoXattr reports whether i's file is known to have no attributes.
func (i *inode) knownNoXattr() bool {
	if i.fs.shared() {
		return false
	}
	i.st.mu.Lock()
	defer i.st.mu.Unlock()
	return i.st.noXattr
}

// xattrChanging counts a setxattr of i's file before it goes to the gofer;
// xattrChanged clears noXattr once it did.
func (i *inode) xattrChanging() { i.fs.xa.seq.Add(1) }

func (i *inode) xattrChanged() {
	i.st.mu.Lock()
	i.st.noXattr = false
	i.st.mu.Unlock()
}
