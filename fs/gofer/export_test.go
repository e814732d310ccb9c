package gofer

// PrefetchCounts returns the names a filesystem's listings noted and not
// yet walked, and its ready entries (prefetch.go), for tests of their
// bounds.
func PrefetchCounts(fs *Filesystem) (listed, ready int64) {
	return fs.pf.listed.Load(), fs.pf.ready.Load()
}
