// Package boot assembles and runs a sandbox inside the `runsc boot`
// process: the memory file, the platform, the mount tree, the kernel and
// the container's first process.
package boot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform/ptrace"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/syscalls/linux"
)

// Config describes the sandbox to run.
type Config struct {
	Argv     []string
	Envv     []string
	Cwd      string
	Hostname string
	Strace   bool
	Debug    bool
	// DebugDir, if set, receives the sandbox's debug log.
	DebugDir string
}

// Exit codes for a first process that could not be started, as a shell
// reports them.
const (
	exitNotFound      = 127
	exitCannotExecute = 126
)

// Run runs the sandbox until its first process and every other task have
// exited, and returns the exit code to report (128+N for death by signal N).
func Run(c Config) (int, error) {
	var debugLog io.Writer
	if c.DebugDir != "" {
		if err := os.MkdirAll(c.DebugDir, 0o755); err != nil {
			return 1, fmt.Errorf("debug log directory: %w", err)
		}
		name := filepath.Join(c.DebugDir, fmt.Sprintf("runsc.boot.%s.%d.log", time.Now().Format("20060102-150405"), os.Getpid()))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 1, fmt.Errorf("debug log: %w", err)
		}
		defer f.Close()
		debugLog = f
	} else if c.Debug {
		debugLog = os.Stderr
	}

	mf, err := memfile.New("rampart-memory")
	if err != nil {
		return 1, fmt.Errorf("creating the memory file: %w", err)
	}
	defer mf.Close()

	p, err := ptrace.New(mf.FD())
	if err != nil {
		return 1, fmt.Errorf("starting the ptrace platform: %w", err)
	}
	defer p.Close()

	fsys, err := newFilesystems(mf)
	if err != nil {
		return 1, err
	}

	vd, err := newVDSO(mf, runtime.NumCPU())
	if err != nil {
		return 1, err
	}
	defer vd.stop()

	kcfg := kernel.Config{
		Platform:     p,
		MemoryFile:   mf,
		VFS:          fsys.vfs,
		SyscallTable: linux.Table(),
		Hostname:     c.Hostname,
		NumCPU:       runtime.NumCPU(),
		DebugLog:     debugLog,
		Loader:       &execLoader{vdso: vd, maxAddr: p.MaxUserAddress()},
	}
	if c.Strace {
		kcfg.Strace = newStraceTracer(os.Stderr)
	}
	k := kernel.New(kcfg)
	if err := fsys.mountSys(k); err != nil {
		return 1, err
	}
	if err := fsys.mountProc(k, time.Now()); err != nil {
		return 1, err
	}
	if err := fsys.mountDevpts(k); err != nil {
		return 1, err
	}

	creds := auth.NewUserCredentials(auth.KUID(os.Getuid()), auth.KGID(os.Getgid()), hostGroups())
	fsc := fsys.newFSContext(creds, c.Cwd)
	fdt, err := fsys.newStdioFDTable(creds)
	if err != nil {
		return 1, err
	}
	initCfg := kernel.InitConfig{
		Argv:        c.Argv,
		Envv:        c.Envv,
		Credentials: creds,
		FDTable:     fdt,
		FSContext:   fsc,
	}
	initCfg.Path, err = fsys.lookPath(creds, fsc, c.Argv[0], c.Envv)
	if err == nil {
		err = k.StartInit(initCfg)
	}
	if err != nil {
		return startError(c.Argv[0], err)
	}

	// Signals sent to the sandbox process from outside go to init, as
	// signals from an ancestor PID namespace do.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for s := range sigs {
			if tg := k.FindThreadGroup(1); tg != nil {
				k.SendSignal(tg, int(s.(unix.Signal)), nil)
			}
		}
	}()
	ws := k.Wait()
	signal.Stop(sigs)
	if ws.CoreDumped() {
		fmt.Fprintf(os.Stderr, "runsc: the container's init was killed by signal %d (%v), core dumped (no core file is written)\n",
			ws.Signal(), unix.Signal(ws.Signal()))
	}
	return ws.ExitCode(), nil
}

// startError turns a failure to start the first process into the message
// and exit code a shell would give.
func startError(name string, err error) (int, error) {
	var errno unix.Errno
	errors.As(err, &errno)
	switch errno {
	case unix.ENOENT:
		return exitNotFound, fmt.Errorf("%s: no such file or directory", name)
	case unix.ENOEXEC:
		return exitCannotExecute, fmt.Errorf("%s: exec format error: %v", name, err)
	case unix.EACCES:
		return exitCannotExecute, fmt.Errorf("%s: permission denied", name)
	}
	return exitCannotExecute, fmt.Errorf("%s: %v", name, err)
}

func hostGroups() []auth.KGID {
	gs, err := unix.Getgroups()
	if err != nil {
		return nil
	}
	out := make([]auth.KGID, len(gs))
	for i, g := range gs {
		out[i] = auth.KGID(g)
	}
	return out
}
