package kernel

import (
	"time"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Execve replaces the calling process' image with the program at path.
// On failure the old image is intact and the error is returned; on success
// the task continues at the new entry point.
func (t *Task) Execve(path string, argv, envv []string) error {
	k := t.k
	// De-thread: every other thread of the group dies first.
	if err := t.killOtherThreads(); err != nil {
		return err
	}
	m, err := mm.NewMemoryManager(k.Platform, k.MemoryFile)
	if err != nil {
		return err
	}
	img, err := k.Loader.Load(t, m, path, argv, envv)
	if err != nil {
		m.Release()
		return err
	}
	t.releaseFutexes() // robust and PI futexes die with the old image
	old := t.mm
	t.mm = m
	old.Release()

	// A table shared with CLONE_FILES is unshared first, as Linux does.
	if t.fds.users.Load() > 1 {
		nf := NewFDTableRef(t.fds.Fork())
		t.fds.decRef(t)
		t.fds = nf
	}
	t.fds.CloseOnExec(t)
	if t.tg.handlers != nil {
		t.tg.handlers.resetForExec()
	}
	t.execSignalHook()
	t.clearChildTID = 0
	t.robustList.Store(0)
	t.releaseVfork()
	t.setImage(img)
	t.execSecurity()
	return nil
}

// killOtherThreads kills every other task of t's group and waits until
// they are gone.
func (t *Task) killOtherThreads() error {
	k := t.k
	for {
		k.mu.Lock()
		var others []*Task
		for o := range t.tg.tasks {
			if o != t {
				others = append(others, o)
			}
		}
		k.mu.Unlock()
		if len(others) == 0 {
			return nil
		}
		for _, o := range others {
			o.killed.Store(true)
			o.interrupt()
		}
		if t.killed.Load() {
			return ErrExit()
		}
		time.Sleep(time.Millisecond)
	}
}
