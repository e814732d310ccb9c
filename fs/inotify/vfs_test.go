package inotify

import (
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type rootCtx struct{ testCtx }

func (rootCtx) Credentials() *auth.Credentials { return auth.NewRootCredentials() }

func newTmpfs(t *testing.T) (*vfs.VirtualFilesystem, vfs.VirtualDentry) {
	v := vfs.New()
	root, err := v.NewRootMount(tmpfs.New(fsutil.NewFakeMemoryFile(), tmpfs.Options{RootMode: 0o755, DevMinor: v.NewAnonDevMinor()}), vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.DecRef)
	return v, root
}

// TestVFSEvents checks the events of a create, write and unlink as the
// VFS reports them to a directory watch and a file watch.
func TestVFSEvents(t *testing.T) {
	ctx := &rootCtx{}
	v, root := newTmpfs(t)
	pop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: root, Start: root, Path: p, Follow: true}
	}
	if err := v.MkdirAt(ctx, pop("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := FromFile(New(v, Nonblock, DefaultMaxQueuedEvents))
	defer in.fd.DecRef(ctx)
	dvd, err := v.GetDentryAt(ctx, pop("d"))
	if err != nil {
		t.Fatal(err)
	}
	if wd, err := in.AddWatch(ctx, dvd, unix.IN_ALL_EVENTS); wd != 1 || err != nil {
		t.Fatalf("watch d: %d %v", wd, err)
	}
	dvd.DecRef()
	f, err := v.OpenAt(ctx, pop("d/f"), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if wd, err := in.AddWatch(ctx, f.VirtualDentry(), unix.IN_ALL_EVENTS); wd != 2 || err != nil {
		t.Fatalf("watch f: %d %v", wd, err)
	}
	f.Write(ctx, []byte("x"))
	if err := v.UnlinkAt(ctx, pop("d/f")); err != nil {
		t.Fatal(err)
	}
	f.DecRef(ctx)
	want := []rec{
		{1, unix.IN_CREATE, 0, 16, "f"},
		{1, unix.IN_OPEN, 0, 16, "f"},
		{1, unix.IN_MODIFY, 0, 16, "f"},
		{2, unix.IN_MODIFY, 0, 0, ""},
		{2, unix.IN_ATTRIB, 0, 0, ""},
		{1, unix.IN_DELETE, 0, 16, "f"},
		{1, unix.IN_CLOSE_WRITE, 0, 16, "f"},
		{2, unix.IN_CLOSE_WRITE, 0, 0, ""},
		{2, unix.IN_DELETE_SELF, 0, 0, ""},
		{2, unix.IN_IGNORED, 0, 0, ""},
	}
	if got := readAll(t, in); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestVFSConcurrent runs directory changes and file I/O while watches come
// and go and the queue is read, for the race detector and lock order.
func TestVFSConcurrent(t *testing.T) {
	ctx := &rootCtx{}
	v, root := newTmpfs(t)
	pop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: root, Start: root, Path: p, Follow: true}
	}
	if err := v.MkdirAt(ctx, pop("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := FromFile(New(v, Nonblock, 64))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("d/f%d", g)
				f, err := v.OpenAt(ctx, pop(name), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o644})
				if err != nil {
					t.Error(err)
					return
				}
				f.Write(ctx, []byte("data"))
				v.RenameAt(ctx, pop(name), pop(name+"r"), 0)
				v.UnlinkAt(ctx, pop(name+"r"))
				f.DecRef(ctx)
			}
		}(g)
	}
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		buf := make([]byte, 4096)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, p := range []string{"d", "d/f0", "d/f1r"} {
				if vd, err := v.GetDentryAt(ctx, pop(p)); err == nil {
					wd, _ := in.AddWatch(ctx, vd, unix.IN_ALL_EVENTS|unix.IN_ONESHOT)
					vd.DecRef()
					if wd > 0 && wd%3 == 0 {
						in.RemoveWatch(wd)
					}
				}
			}
			in.PRead(ctx, buf, -1)
		}
	}()
	wg.Wait()
	close(stop)
	watcher.Wait()
	in.fd.DecRef(ctx)
}
