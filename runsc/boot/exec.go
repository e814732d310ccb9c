package boot

import (
	"fmt"
	"path"
	"strings"

	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/loader"
	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// vdsoHandle is the sandbox's vDSO, built in the background: vdso.New
// calibrates the TSC against the host clock, a sleep of about 10 ms that
// overlaps the rest of the start-up. wait joins it.
type vdsoHandle struct {
	done chan struct{}
	// v and err are set before done is closed.
	v   *vdso.VDSO
	err error
}

// startVDSO starts building the vDSO in mf; the caller must call wait
// before the handle is used (and stop, which waits, before mf is closed).
func startVDSO(mf *memfile.MemoryFile, ncpu int, start *vdso.Sample) *vdsoHandle {
	h := &vdsoHandle{done: make(chan struct{})}
	go func() {
		defer close(h.done)
		v, err := vdso.New(mf, start)
		if err != nil {
			h.err = fmt.Errorf("building the vDSO: %w", err)
			return
		}
		v.SetNumCPUs(ncpu)
		v.Start()
		h.v = v
	}()
	return h
}

// wait returns once the vDSO is built, with the error if it could not be.
func (h *vdsoHandle) wait() error {
	<-h.done
	return h.err
}

// now is kernel.Config.AppClock: the vDSO's reading of clock id once the
// vDSO is built.
func (h *vdsoHandle) now(id int32) (int64, bool) {
	select {
	case <-h.done:
	default:
		return 0, false
	}
	if h.v == nil {
		return 0, false
	}
	return h.v.Now(id)
}

func (h *vdsoHandle) stop() {
	if h.wait() == nil {
		h.v.Stop()
	}
}

// execLoader implements kernel.Loader with the ELF loader and the VFS.
type execLoader struct {
	vdso    *vdsoHandle
	maxAddr uint64
}

// Load implements kernel.Loader.
func (l *execLoader) Load(t *kernel.Task, m *mm.MemoryManager, name string, argv, envv []string) (kernel.Image, error) {
	c := t.Credentials()
	stack := t.ThreadGroup().Limits().Get(3 /* RLIMIT_STACK */)
	m.SetStackLimit(stack.Cur)
	img, err := loader.Load(loader.Args{
		Filename:       name,
		Argv:           argv,
		Envv:           envv,
		Opener:         taskOpener{t},
		MM:             m,
		MaxUserAddress: l.maxAddr,
		VDSO:           l.vdso.v,
		UID:            uint32(c.RealKUID),
		EUID:           uint32(c.EffectiveKUID),
		GID:            uint32(c.RealKGID),
		EGID:           uint32(c.EffectiveKGID),
		StackLimit:     stack.Cur,
		NoRandomize:    t.Personality()&kernel.AddrNoRandomize != 0,
	})
	if err != nil {
		return kernel.Image{}, err
	}
	return kernel.Image{
		Entry:        img.Entry,
		StackPointer: img.StackPointer,
		Name:         img.Name,
		Path:         img.Path,
	}, nil
}

// cleanPath joins a relative name to the cwd for error messages.
func cleanPath(cwd, name string) string {
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	return path.Join(cwd, name)
}
