package mm

import (
	"testing"

	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// syncFile is a fakeFile that counts msync's write-back requests.
type syncFile struct {
	*fakeFile
	syncs int
}

func (f *syncFile) Sync() error { f.syncs++; return nil }

// TestMSyncCallsSyncer: msync asks the Mappable of a shared mapping in its
// range to write back, and not that of a private one.
func TestMSyncCallsSyncer(t *testing.T) {
	e := newEnv(t)
	shared := &syncFile{fakeFile: newFakeFile(t, e.mf, make([]byte, 2*pg))}
	private := &syncFile{fakeFile: newFakeFile(t, e.mf, make([]byte, 2*pg))}
	a := mustMMap(t, e.mm, MMapOpts{Length: 2 * pg, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: shared})
	b := mustMMap(t, e.mm, MMapOpts{Length: 2 * pg, Private: true, Perms: usermem.ReadWrite, MaxPerms: usermem.AnyAccess, Mappable: private})
	if err := e.mm.MSync(a, 2*pg, 4); err != nil { // MS_SYNC
		t.Fatal(err)
	}
	if err := e.mm.MSync(b, 2*pg, 4); err != nil {
		t.Fatal(err)
	}
	if shared.syncs != 1 || private.syncs != 0 {
		t.Errorf("syncs: shared %d, private %d", shared.syncs, private.syncs)
	}
}
