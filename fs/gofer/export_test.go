package gofer

// PrefetchCounts returns the names a filesystem's listings noted and not
// yet walked, and its ready entries (prefetch.go), for tests of their
// bounds.
func PrefetchCounts(fs *Filesystem) (listed, ready int64) {
	return fs.pf.listed.Load(), fs.pf.ready.Load()
}

// PrefetchWalked returns the names a filesystem walked ahead of their
// lookups lately, and how many of those were looked up.
func PrefetchWalked(fs *Filesystem) (walked, used int64) {
	return fs.pf.walked.Load(), fs.pf.used.Load()
}

// XattrCalls returns how many attribute requests went to the gofer.
func XattrCalls(fs *Filesystem) int64 { return fs.xa.calls.Load() }
