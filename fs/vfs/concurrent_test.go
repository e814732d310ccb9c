package vfs_test

import (
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// TestConcurrentTreeOps runs creates, renames, unlinks, walks (including
// "..") and reads in parallel; run with -race.
func TestConcurrentTreeOps(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/a", 0o755)
	e.mkdir(rootCtx, "/b", 0o755)
	e.mkdir(rootCtx, "/a/sub", 0o755)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				p := fmt.Sprintf("/a/f%d-%d", g, i)
				fd, err := e.vfs.OpenAt(rootCtx, e.pop(p, true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o644})
				if err != nil {
					t.Error(err)
					return
				}
				fd.Write(rootCtx, []byte("x"))
				q := fmt.Sprintf("/b/f%d-%d", g, i)
				if err := e.vfs.RenameAt(rootCtx, e.pop(p, false), e.pop(q, false), 0); err != nil {
					t.Error(err)
				}
				if err := e.vfs.UnlinkAt(rootCtx, e.pop(q, false)); err != nil {
					t.Error(err)
				}
				fd.DecRef(rootCtx)
			}
		}(g)
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				// Move /a/sub between /a and /b while others walk through it.
				from, to := "/a/sub", "/b/sub"
				if i%2 == 1 {
					from, to = to, from
				}
				e.vfs.RenameAt(rootCtx, e.pop(from, false), e.pop(to, false), 0)
				for _, p := range []string{"/a/sub/..", "/b/sub/../..", "/a/./sub", "/b"} {
					vd, err := e.vfs.GetDentryAt(rootCtx, e.pop(p, true))
					if err == nil {
						e.vfs.PathnameWithin(e.root, vd)
						vd.DecRef()
					}
				}
			}
		}()
	}
	wg.Wait()
	fd, _ := e.vfs.OpenAt(rootCtx, e.pop("/b", true), &vfs.OpenOptions{Flags: unix.O_RDONLY})
	defer fd.DecRef(rootCtx)
	n := 0
	fd.Getdents(rootCtx, func(*vfs.Dirent) bool { n++; return true })
	if n > 3 {
		t.Errorf("leftover entries in /b: %d", n)
	}
	if e.mf.Allocated() != 0 {
		t.Errorf("%d pages leaked", e.mf.Allocated())
	}
}
