package vfs_test

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

var usermemRead = usermem.Read

type countingFile struct {
	vfs.FileDescriptionDefaultImpl
	released *int
	mu       *sync.Mutex
}

func (f countingFile) Release(vfs.Context) {
	f.mu.Lock()
	*f.released++
	f.mu.Unlock()
}
func (f countingFile) Stat(vfs.Context) (vfs.Stat, error) { return vfs.Stat{}, nil }

func newCounting() (*vfs.FileDescription, *int) {
	n := new(int)
	return vfs.NewFileDescription(countingFile{released: n, mu: new(sync.Mutex)}, vfs.VirtualDentry{}, unix.O_RDWR, vfs.FileDescriptionOptions{}), n
}

func TestFDTable(t *testing.T) {
	tbl := vfs.NewFDTable()
	f, released := newCounting()
	for want := int32(0); want < 3; want++ {
		fd, err := tbl.Install(f, vfs.FDFlags{}, 0)
		if err != nil || fd != want {
			t.Fatalf("install = %d, %v; want %d", fd, err, want)
		}
	}
	if err := tbl.Close(rootCtx, 1); err != nil {
		t.Fatal(err)
	}
	if fd, _ := tbl.Install(f, vfs.FDFlags{}, 0); fd != 1 {
		t.Errorf("lowest free = %d, want 1", fd)
	}
	if fd, _ := tbl.Install(f, vfs.FDFlags{CloseOnExec: true}, 10); fd != 10 {
		t.Errorf("minFD install = %d", fd)
	}
	if fd, _ := tbl.Install(f, vfs.FDFlags{}, 0); fd != 3 {
		t.Errorf("after minFD install, lowest = %d want 3", fd)
	}
	if err := tbl.Close(rootCtx, 7); err != unix.EBADF {
		t.Errorf("close free fd: %v", err)
	}
	// dup2 over an open descriptor closes the old file.
	g, gReleased := newCounting()
	if _, err := tbl.Install(g, vfs.FDFlags{}, 20); err != nil {
		t.Fatal(err)
	}
	g.DecRef(rootCtx)
	if err := tbl.InstallAt(rootCtx, 20, f, vfs.FDFlags{}); err != nil {
		t.Fatal(err)
	}
	if *gReleased != 1 {
		t.Errorf("dup2 over open fd did not release it")
	}
	if err := tbl.InstallAt(rootCtx, vfs.DefaultNOFILE, f, vfs.FDFlags{}); err != unix.EBADF {
		t.Errorf("dup2 past limit: %v", err)
	}
	// Fork shares descriptions; CloseOnExec closes only marked ones.
	child := tbl.Fork()
	child.CloseOnExec(rootCtx)
	if got, _ := child.Get(10); got != nil {
		t.Error("cloexec fd survived exec")
	}
	got, flags := tbl.Get(10)
	if got == nil || !flags.CloseOnExec {
		t.Error("parent lost fd 10 or its flag")
	} else {
		got.DecRef(rootCtx)
	}
	if got, _ := child.Get(0); got != f {
		t.Error("fork lost fd 0")
	} else {
		got.DecRef(rootCtx)
	}
	child.DecRef(rootCtx)
	if *released != 0 {
		t.Error("file released while the parent holds it")
	}
	tbl.CloseRange(rootCtx, 0, 2, true)
	if _, fl := tbl.Get(2); !fl.CloseOnExec {
		t.Error("CLOSE_RANGE_CLOEXEC did not set the flag")
	} else {
		f.DecRef(rootCtx) // reference from Get
	}
	tbl.CloseRange(rootCtx, 0, ^uint32(0), false)
	if tbl.Len() != 0 {
		t.Errorf("Len after close_range = %d", tbl.Len())
	}
	f.DecRef(rootCtx)
	if *released != 1 {
		t.Errorf("released %d times", *released)
	}
	// The limit gives EMFILE.
	tbl.SetLimit(2)
	h, _ := newCounting()
	tbl.Install(h, vfs.FDFlags{}, 0)
	tbl.Install(h, vfs.FDFlags{}, 0)
	if _, err := tbl.Install(h, vfs.FDFlags{}, 0); err != unix.EMFILE {
		t.Errorf("past limit: %v", err)
	}
	if _, err := tbl.InstallMany([]*vfs.FileDescription{h, h}, vfs.FDFlags{}, 0); err != unix.EMFILE {
		t.Errorf("InstallMany past limit: %v", err)
	}
	tbl.DecRef(rootCtx)
	h.DecRef(rootCtx)
}

func TestFDTableConcurrent(t *testing.T) {
	tbl := vfs.NewFDTable()
	f, released := newCounting()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				fd, err := tbl.Install(f, vfs.FDFlags{}, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if got, _ := tbl.Get(fd); got != nil {
					got.DecRef(rootCtx)
				}
				if err := tbl.Close(rootCtx, fd); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	f.DecRef(rootCtx)
	if *released != 1 || tbl.Len() != 0 {
		t.Errorf("released %d, len %d", *released, tbl.Len())
	}
}
