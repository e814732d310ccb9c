package cmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/console"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// hostTerminal is the host side of the terminal of a process with
// process.terminal (create/run's init, or exec --tty): a host
// pseudo-terminal whose master went to the console socket or is relayed
// to the caller's own terminal (attach), and whose replica goes to the
// sandbox, which relays it to a terminal of its own devpts.
type hostTerminal struct {
	replica *os.File
	attach  *console.Attachment // nil with a console socket
}

// openTerminal prepares the terminal of p: with a console socket, the
// master is sent there (the client owns it); without one, the caller's
// stdin and stdout are relayed to it, which only makes sense when the
// caller stays (foreground). A console socket that cannot be reached is
// an error before anything is created. nil without process.terminal.
func openTerminal(p *specs.Process, consoleSocket string, foreground bool) (*hostTerminal, error) {
	if p == nil || !p.Terminal {
		return nil, nil
	}
	var sock *console.Socket
	switch {
	case consoleSocket != "":
		var err error
		if sock, err = console.Dial(consoleSocket); err != nil {
			return nil, err
		}
	case !foreground:
		return nil, console.ErrDetachedTTY
	}
	master, replica, err := console.NewPty()
	if err != nil {
		if sock != nil {
			sock.Close()
		}
		return nil, err
	}
	if cs := p.ConsoleSize; cs != nil {
		console.SetWindowSize(int(master.Fd()), unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)})
	}
	if sock == nil {
		return &hostTerminal{replica: replica, attach: console.Attach(master, os.Stdin, os.Stdout)}, nil
	}
	err = sock.SendMaster(master)
	master.Close()
	if err != nil {
		replica.Close()
		return nil, err
	}
	return &hostTerminal{replica: replica}, nil
}

// passToSandbox gives the replica to the sandbox process cmd as
// boot.ConsoleFD (its third extra file) and makes it the controlling
// terminal of the sandbox's own session, so that the host sends it
// SIGWINCH when the client resizes the master.
func (h *hostTerminal) passToSandbox(cmd *exec.Cmd) {
	if h == nil {
		return
	}
	for len(cmd.ExtraFiles) <= boot.ConsoleFD-3 {
		cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
	}
	cmd.ExtraFiles[boot.ConsoleFD-3] = h.replica
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = boot.ConsoleFD
}

// release closes the caller's replica once the sandbox has its own, so
// that the client sees EIO when the sandbox's ends.
func (h *hostTerminal) release() {
	if h != nil && h.replica != nil {
		h.replica.Close()
		h.replica = nil
	}
}

// close ends the relay to the caller's terminal (restoring its mode) on
// a failure.
func (h *hostTerminal) close() {
	if h == nil {
		return
	}
	h.release()
	if h.attach != nil {
		h.attach.Close()
	}
}

// attachment is the relay to the caller's terminal, or nil.
func (h *hostTerminal) attachment() *console.Attachment {
	if h == nil {
		return nil
	}
	return h.attach
}

// An exec'd process' host terminal is nobody's controlling terminal on
// the host, so a client's resize of its master (conmon, the containerd
// shim) would reach nobody. startResizeWatcher starts a small process,
// `runsc exec --console-watch ID`, whose own session has the replica as
// controlling terminal (it keeps no descriptor of it, so the client's
// EIO is unaffected): the host sends it SIGWINCH on each resize, and it
// asks the sandbox to apply the new size (control.CmdResize). It ends
// when the client closes the master (SIGHUP), or the sandbox is gone.
func startResizeWatcher(g *flags.Global, id string, replica *os.File) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append(g.Args(), "exec", "--console-watch", id)...)
	cmd.ExtraFiles = []*os.File{replica}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the console's resize watcher: %w", err)
	}
	go cmd.Wait()
	return nil
}

// watchResizes is the resize watcher of startResizeWatcher.
func watchResizes(g *flags.Global, id string) error {
	// The session keeps its controlling terminal without an open
	// descriptor.
	unix.Close(3)
	st, err := load(g, id)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGWINCH, unix.SIGHUP, unix.SIGTERM)
	gone := make(chan struct{})
	if pfd, err := unix.PidfdOpen(st.Pid, 0); err == nil {
		go func() {
			fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err != unix.EINTR {
					break
				}
			}
			close(gone)
		}()
	} else if errors.Is(err, unix.ESRCH) {
		return nil
	}
	path := store(g).ControlPath(id)
	resize := func() bool {
		_, err := control.Call(path, control.Request{Cmd: control.CmdResize}, 5*time.Second)
		return !errors.Is(err, control.ErrUnreachable)
	}
	// A resize made before the handler was installed.
	if !resize() {
		return nil
	}
	for {
		select {
		case <-gone:
			return nil
		case s := <-sigs:
			if s != unix.SIGWINCH || !resize() {
				return nil
			}
		}
	}
}
