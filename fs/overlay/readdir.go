package overlay

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// dirFile is an open overlay directory. A directory that lives in one
// layer only lists that layer's directory, with its offsets (as Linux's
// overlayfs iterates a "real" directory). A merged directory's listing is
// made when reading starts at offset 0 and kept until the next rewind (as
// Linux caches a merged directory's entries per open file); an entry's
// offset is its index in the listing.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	i *inode

	// mu protects real and ents.
	mu sync.Mutex
	// real is the open layer directory of a directory that is not merged.
	real vfs.FileDescriptionImpl
	ents []vfs.Dirent
}

func (f *dirFile) Release(ctx vfs.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.real != nil {
		f.real.Release(ctx)
		f.real = nil
	}
}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.i.Stat(ctx) }

// Getdents implements vfs.FileDescriptionImpl.Getdents.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.i
	i.mu.Lock()
	p, u, opaque := i.parent, i.upper, i.opaque
	i.mu.Unlock()
	if p == nil {
		p = i
	}
	if f.real == nil && f.ents == nil && (u == nil || i.lower == nil || opaque) {
		layer := u
		if layer == nil {
			layer = i.lower
		}
		impl, err := layer.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		f.real = impl
	}
	if f.real != nil {
		// The layer's entries, with the overlay's numbers for "." and
		// ".." (the layer's callback may hold its locks: compute them
		// first).
		dot, dotdot := i.dirIno(ctx), p.dirIno(ctx)
		return f.real.Getdents(ctx, off, func(d *vfs.Dirent) bool {
			switch d.Name {
			case ".":
				d.Ino = dot
			case "..":
				d.Ino = dotdot
			}
			return cb(d)
		})
	}
	if off == 0 || f.ents == nil {
		ents, _, err := i.readMerged(ctx)
		if err != nil {
			return err
		}
		dots := []vfs.Dirent{
			{Name: ".", Ino: i.dirIno(ctx), Type: unix.DT_DIR},
			{Name: "..", Ino: p.dirIno(ctx), Type: unix.DT_DIR},
		}
		f.ents = append(dots, ents...)
	}
	for k := off; k >= 0 && k < int64(len(f.ents)); k++ {
		d := f.ents[k]
		d.NextOff = k + 1
		if !cb(&d) {
			return nil
		}
	}
	return nil
}

// readDir lists a layer's directory (without "." and "..").
func readDir(ctx vfs.Context, d vfs.Inode) ([]vfs.Dirent, error) {
	impl, err := d.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer impl.Release(ctx)
	var out []vfs.Dirent
	err = impl.Getdents(ctx, 0, func(e *vfs.Dirent) bool {
		if e.Name != "." && e.Name != ".." {
			out = append(out, *e)
		}
		return true
	})
	return out, err
}

// readMerged returns the entries of directory i (without "." and ".."):
// the upper directory's, then the lower one's that are neither shadowed
// nor whited out (unless i is opaque); and the names of the upper
// whiteouts.
func (i *inode) readMerged(ctx vfs.Context) (ents []vfs.Dirent, whiteouts []string, err error) {
	rc := vfs.KernelContext{}
	i.mu.Lock()
	u, opaque := i.upper, i.opaque
	i.mu.Unlock()
	var seen map[string]struct{}
	if u != nil {
		ups, err := readDir(rc, u)
		if err != nil {
			return nil, nil, err
		}
		seen = make(map[string]struct{}, len(ups))
		for _, e := range ups {
			seen[e.Name] = struct{}{}
			if e.Type == unix.DT_CHR {
				if c, err := u.Lookup(rc, e.Name); err == nil {
					wh := isWhiteout(c)
					c.Release()
					if wh {
						whiteouts = append(whiteouts, e.Name)
						continue
					}
				}
			}
			ents = append(ents, e)
		}
	}
	if i.lower != nil && !opaque {
		lows, err := readDir(ctx, i.lower)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range lows {
			if _, ok := seen[e.Name]; !ok {
				ents = append(ents, e)
			}
		}
	}
	return ents, whiteouts, nil
}
