package gofer_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// BenchmarkCreateStatUnlink runs the file-heavy pattern that made the
// written-through root slow (create+write+close, stat, unlink of many
// files in a new directory) against a gofer in another process, as the
// sandbox does; b.N files per phase. Each phase is its own sub-benchmark
// result (ns per file).
func BenchmarkCreateStatUnlink(b *testing.B) {
	var log logCounter
	_, _, gfs := startGofer(b, "serve", b.TempDir(), log.logf)
	v := vfs.New()
	root, err := v.NewRootMount(gfs, vfs.MountOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer root.DecRef()
	ctx := rootCtx
	p := func(s string) *vfs.PathOperation { return &vfs.PathOperation{Root: root, Start: root, Path: s} }
	dirs := 0
	// mk makes a new directory with n files of 2 bytes, returning its name.
	mk := func(b *testing.B, n int) string {
		dirs++
		d := fmt.Sprintf("/w%d", dirs)
		if err := v.MkdirAt(ctx, p(d), 0o755); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			f, err := open(v, root, fmt.Sprintf("%s/f%d", d, i), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(ctx, []byte("x\n")); err != nil {
				b.Fatal(err)
			}
			f.DecRef(ctx)
		}
		return d
	}
	b.Run("create", func(b *testing.B) { mk(b, b.N) })
	b.Run("stat", func(b *testing.B) {
		d := mk(b, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := v.StatAt(ctx, p(fmt.Sprintf("%s/f%d", d, i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unlink", func(b *testing.B) {
		d := mk(b, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := v.UnlinkAt(ctx, p(fmt.Sprintf("%s/f%d", d, i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("roundtrip", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := v.StatFSAt(ctx, p("/")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
