package kernfs

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{ creds *auth.Credentials }

func (c testCtx) Credentials() *auth.Credentials    { return c.creds }
func (testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

var rootCtx = testCtx{auth.NewRootCredentials()}

// object is what the test tree's nodes describe: the "obj" directory's
// nodes vanish once it is dead.
type object struct {
	dead  atomic.Bool
	gens  atomic.Int32
	value atomic.Value
}

// payload is the test tree's per-node data.
type payload struct{ obj *object }

type listDir struct{ n int }

func (l listDir) Lookup(_ vfs.Context, d *Inode[payload], name string) (*Inode[payload], error) {
	i, err := strconv.Atoi(name)
	if err != nil || i < 0 || i >= l.n || strconv.Itoa(i) != name {
		return nil, unix.ENOENT
	}
	return l.node(d, i), nil
}

func (l listDir) node(d *Inode[payload], i int) *Inode[payload] {
	c := d.NewChild(strconv.Itoa(i), unix.S_IFREG|0o444)
	c.File = &FileOps[payload]{Gen: func(vfs.Context, *Inode[payload]) ([]byte, error) { return []byte(strconv.Itoa(i)), nil }}
	return c
}

// Entries lists the even numbers first (keys 0..), then the odd ones, to
// check that the listing follows the keys and not the names.
func (l listDir) Entries(_ vfs.Context, d *Inode[payload]) ([]DirEntry[payload], error) {
	var out []DirEntry[payload]
	for _, odd := range []int{0, 1} {
		for i := odd; i < l.n; i += 2 {
			out = append(out, DirEntry[payload]{Name: strconv.Itoa(i), Key: int64(odd*1000 + i), Node: l.node(d, i)})
		}
	}
	return out, nil
}

func newTestTree(t *testing.T, needsWriter bool) (*vfs.VirtualFilesystem, vfs.VirtualDentry, *object) {
	t.Helper()
	obj := &object{}
	obj.value.Store("initial")
	when := time.Unix(1700000000, 0)
	objDir := StaticDir[payload]{
		Text("gen", func(_ vfs.Context, n *Inode[payload]) ([]byte, error) {
			c := n.Data.obj.gens.Add(1)
			return []byte("generation " + strconv.Itoa(int(c)) + "\n"), nil
		}),
		File("value", 0o644, &FileOps[payload]{
			Gen: func(_ vfs.Context, n *Inode[payload]) ([]byte, error) {
				return []byte(n.Data.obj.value.Load().(string)), nil
			},
			Write: func(_ vfs.Context, n *Inode[payload], data []byte) error {
				if len(data) > 16 {
					return unix.EINVAL
				}
				n.Data.obj.value.Store(string(data))
				return nil
			},
		}),
		File("secret", 0o444, &FileOps[payload]{
			Gen: func(vfs.Context, *Inode[payload]) ([]byte, error) { return []byte("s"), nil },
			MayOpen: func(ctx vfs.Context, _ *Inode[payload], _ uint32) error {
				if !ctx.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
					return unix.EACCES
				}
				return nil
			},
		}),
	}
	root := StaticDir[payload]{
		Constant[payload]("a", "alpha\n"),
		Symlink("link", func(vfs.Context, *Inode[payload]) (string, error) { return "a", nil }),
		Dir("list", 0o755, listDir{n: 5}),
		Dir("obj", 0o555, DirOps[payload](objDir)),
	}
	fs := New(Options[payload]{
		Name: "testfs", Magic: 0x1234, DevMinor: 7, RootMode: 0o555, Time: when,
		FileSize: 4096, BlockSize: 4096, WriteOpenNeedsWriter: needsWriter,
		Hooks: Hooks[payload]{
			Gone: func(n *Inode[payload]) bool { return n.Data.obj != nil && n.Data.obj.dead.Load() },
			Owner: func(n *Inode[payload]) (auth.KUID, auth.KGID) {
				if n.Data.obj != nil {
					return 1000, 1000
				}
				return 0, 0
			},
		},
	}, rootObjDir{root, obj}, payload{})
	v := vfs.New()
	vd, err := v.NewRootMount(fs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vd.DecRef)
	return v, vd, obj
}

// rootObjDir is the root: the static entries, with "obj" carrying the
// object as its payload.
type rootObjDir struct {
	s   StaticDir[payload]
	obj *object
}

func (r rootObjDir) Lookup(ctx vfs.Context, d *Inode[payload], name string) (*Inode[payload], error) {
	c, err := r.s.Lookup(ctx, d, name)
	if err == nil && name == "obj" {
		c.Data.obj = r.obj
	}
	return c, err
}

func (r rootObjDir) Entries(ctx vfs.Context, d *Inode[payload]) ([]DirEntry[payload], error) {
	return r.s.Entries(ctx, d)
}

func pop(root vfs.VirtualDentry, path string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: root, Start: root, Path: path, Follow: true}
}

func open(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, path string, flags uint32) (*vfs.FileDescription, error) {
	t.Helper()
	return v.OpenAt(rootCtx, pop(root, path), &vfs.OpenOptions{Flags: flags})
}

func readAll(t *testing.T, fd *vfs.FileDescription, chunk int) (string, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, chunk)
	for {
		n, err := fd.Read(rootCtx, buf)
		if err != nil {
			return string(out), err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

func listing(t *testing.T, fd *vfs.FileDescription, perCall int) []string {
	t.Helper()
	var names []string
	for {
		got := 0
		if err := fd.Getdents(rootCtx, func(d *vfs.Dirent) bool {
			if got == perCall {
				return false
			}
			got++
			names = append(names, d.Name)
			return true
		}); err != nil {
			t.Fatalf("getdents: %v", err)
		}
		if got == 0 {
			return names
		}
	}
}

func TestReadAndSnapshot(t *testing.T) {
	v, root, _ := newTestTree(t, false)
	fd, err := open(t, v, root, "a", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(rootCtx)
	if got, err := readAll(t, fd, 2); got != "alpha\n" || err != nil {
		t.Errorf("read a = %q, %v", got, err)
	}
	gen, err := open(t, v, root, "obj/gen", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.DecRef(rootCtx)
	// Small reads continue in one snapshot; a read at 0 regenerates.
	if got, _ := readAll(t, gen, 3); got != "generation 1\n" {
		t.Errorf("first read = %q", got)
	}
	buf := make([]byte, 64)
	if n, _ := gen.ReadAt(rootCtx, buf, 0); string(buf[:n]) != "generation 2\n" {
		t.Errorf("pread at 0 = %q", buf[:n])
	}
	if n, _ := gen.ReadAt(rootCtx, buf, 11); string(buf[:n]) != "2\n" {
		t.Errorf("pread at 11 = %q", buf[:n])
	}
	// Files with a size seek as regular files (sysfs), the others as
	// seq_file (procfs).
	if off, err := gen.Seek(rootCtx, 5, unix.SEEK_END); off != 4101 || err != nil {
		t.Errorf("SEEK_END with a file size: %d, %v; want 4101", off, err)
	}
	seqfs := New(Options[payload]{Name: "seq", RootMode: 0o555}, StaticDir[payload]{Constant[payload]("c", "x")}, payload{})
	v2 := vfs.New()
	root2, err := v2.NewRootMount(seqfs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer root2.DecRef()
	seq, err := open(t, v2, root2, "c", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer seq.DecRef(rootCtx)
	if _, err := seq.Seek(rootCtx, 0, unix.SEEK_END); err != unix.EINVAL {
		t.Errorf("SEEK_END without a file size: %v, want EINVAL", err)
	}
	if off, err := seq.Seek(rootCtx, 3, unix.SEEK_SET); off != 3 || err != nil {
		t.Errorf("SEEK_SET: %d, %v", off, err)
	}
}

func TestStatAndPerms(t *testing.T) {
	v, root, _ := newTestTree(t, false)
	for path, want := range map[string]uint32{
		"/":    unix.S_IFDIR | 0o555,
		"a":    unix.S_IFREG | 0o444,
		"list": unix.S_IFDIR | 0o755,
		"obj":  unix.S_IFDIR | 0o555,
	} {
		st, _, err := v.StatAt(rootCtx, pop(root, path))
		if err != nil || st.Mode != want {
			t.Errorf("stat %q: mode %o, %v; want %o", path, st.Mode, err, want)
		}
	}
	st, _, err := v.StatAt(rootCtx, pop(root, "a"))
	if err != nil || st.Size != 4096 || st.Blksize != 4096 || st.Dev != unix.Mkdev(0, 7) || st.Mtime.Sec != 1700000000 || st.UID != 0 {
		t.Errorf("stat a = %+v, %v", st, err)
	}
	st2, _, _ := v.StatAt(rootCtx, pop(root, "a"))
	if st2.Ino != st.Ino || st.Ino < 2 {
		t.Errorf("inode numbers %d, %d: want stable and not the root's", st.Ino, st2.Ino)
	}
	st, _, err = v.StatAt(rootCtx, pop(root, "obj/value"))
	if err != nil || st.UID != 1000 || st.GID != 1000 {
		t.Errorf("owner hook: %+v, %v", st, err)
	}
	if target, err := v.ReadlinkAt(rootCtx, pop(root, "link")); target != "a" || err != nil {
		t.Errorf("readlink = %q, %v", target, err)
	}
	if fd, err := open(t, v, root, "link", unix.O_RDONLY); err != nil {
		t.Errorf("open through symlink: %v", err)
	} else {
		fd.DecRef(rootCtx)
	}
	sfs, err := v.StatFSAt(rootCtx, pop(root, "/"))
	if err != nil || sfs.Type != 0x1234 {
		t.Errorf("statfs = %+v, %v", sfs, err)
	}
}

func TestListingFollowsKeys(t *testing.T) {
	v, root, _ := newTestTree(t, false)
	fd, err := open(t, v, root, "list", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(rootCtx)
	for _, per := range []int{1, 2, 100} {
		if _, err := fd.Seek(rootCtx, 0, unix.SEEK_SET); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(listing(t, fd, per), ",")
		if got != ".,..,0,2,4,1,3" {
			t.Errorf("listing %d per call = %s", per, got)
		}
	}
	rfd, err := open(t, v, root, "/", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer rfd.DecRef(rootCtx)
	if got := strings.Join(listing(t, rfd, 1), ","); got != ".,..,a,link,list,obj" {
		t.Errorf("root listing = %s", got)
	}
}

func TestWrites(t *testing.T) {
	for _, needsWriter := range []bool{false, true} {
		v, root, obj := newTestTree(t, needsWriter)
		fd, err := open(t, v, root, "obj/value", unix.O_WRONLY)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fd.Write(rootCtx, []byte("new")); err != nil || obj.value.Load() != "new" {
			t.Errorf("write: %v, value %q", err, obj.value.Load())
		}
		if _, err := fd.Write(rootCtx, []byte("far too long for the value")); err != unix.EINVAL {
			t.Errorf("long write: %v, want EINVAL", err)
		}
		fd.DecRef(rootCtx)
		// A file without a writer: procfs opens it and fails the write,
		// sysfs refuses the open.
		fd, err = open(t, v, root, "a", unix.O_WRONLY)
		if needsWriter {
			if err != unix.EACCES {
				t.Errorf("open a for writing: %v, want EACCES", err)
			}
		} else {
			if err != nil {
				t.Fatalf("open a for writing: %v", err)
			}
			if _, err := fd.Write(rootCtx, []byte("x")); err != unix.EINVAL {
				t.Errorf("write a: %v, want EINVAL", err)
			}
			fd.DecRef(rootCtx)
		}
		if _, err := open(t, v, root, "list", unix.O_RDWR); err != unix.EISDIR {
			t.Errorf("open dir for writing: %v, want EISDIR", err)
		}
	}
}

func TestFixedTree(t *testing.T) {
	v, root, _ := newTestTree(t, false)
	if err := v.MkdirAt(rootCtx, pop(root, "new"), 0o755); err == nil {
		t.Errorf("mkdir succeeded")
	}
	if err := v.UnlinkAt(rootCtx, pop(root, "a")); err != unix.EPERM {
		t.Errorf("unlink: %v, want EPERM", err)
	}
	if _, err := open(t, v, root, "created", unix.O_CREAT|unix.O_WRONLY); err == nil {
		t.Errorf("create succeeded")
	}
	if _, err := open(t, v, root, "missing", unix.O_RDONLY); err != unix.ENOENT {
		t.Errorf("open missing: %v, want ENOENT", err)
	}
	if _, err := open(t, v, root, "a/b", unix.O_RDONLY); err != unix.ENOTDIR {
		t.Errorf("open a/b: %v, want ENOTDIR", err)
	}
}

func TestMayOpen(t *testing.T) {
	v, root, _ := newTestTree(t, false)
	user := testCtx{auth.NewUserCredentials(1000, 1000, nil)}
	if _, err := v.OpenAt(user, pop(root, "obj/secret"), &vfs.OpenOptions{Flags: unix.O_RDONLY}); err != unix.EACCES {
		t.Errorf("open secret as a user: %v, want EACCES", err)
	}
	fd, err := open(t, v, root, "obj/secret", unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open secret as root: %v", err)
	}
	fd.DecRef(rootCtx)
}

func TestGone(t *testing.T) {
	v, root, obj := newTestTree(t, false)
	fd, err := open(t, v, root, "obj/gen", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(rootCtx)
	obj.dead.Store(true)
	buf := make([]byte, 8)
	if _, err := fd.ReadAt(rootCtx, buf, 0); err != unix.ESRCH {
		t.Errorf("read of a gone node: %v, want ESRCH", err)
	}
	if _, err := fd.Stat(rootCtx); err != unix.ESRCH {
		t.Errorf("fstat of a gone node: %v, want ESRCH", err)
	}
	if _, _, err := v.StatAt(rootCtx, pop(root, "obj/gen")); err != unix.ENOENT {
		t.Errorf("stat below a gone node: %v, want ENOENT", err)
	}
	// The root is not tied to the object.
	if _, _, err := v.StatAt(rootCtx, pop(root, "a")); err != nil {
		t.Errorf("stat a: %v", err)
	}
	// The dentry cache may sweep a gone node out without a lookup of it
	// (vfs.Expirer), and keeps the others.
	node := fd.VirtualDentry().Dentry().Inode()
	if e, ok := node.(vfs.Expirer); !ok || !e.Expired() {
		t.Errorf("a gone node is not a vfs.Expirer that reports it expired")
	}
	if e, ok := root.Dentry().Inode().(vfs.Expirer); ok && e.Expired() {
		t.Errorf("the root reports it expired")
	}
}
