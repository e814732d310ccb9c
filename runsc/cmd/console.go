package cmd

import (
	"os"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/console"
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
	for len(cmd.ExtraFiles) < boot.ConsoleFD-3 {
		cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles[:boot.ConsoleFD-3], h.replica)
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
