package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// signalGrace is how long credchain takes, at most, to exit after SIGINT,
// SIGTERM or SIGHUP once the running command has been cancelled (a helper's
// process group killed, a token request abandoned, an answer already
// received stored).
const signalGrace = 900 * time.Millisecond

// signalExit turns SIGINT, SIGTERM and SIGHUP into a prompt exit: the
// command's context is cancelled at once, and the process exits within
// signalGrace whatever is still blocked (a read of a descriptor, a hung
// keychain call). While credchain exec's command runs, signals are the
// command's (exec forwards them) and credchain waits for its status.
type signalExit struct {
	cancel     context.CancelFunc
	stderr     io.Writer
	forwarding atomic.Bool
	got        atomic.Int32
	exit       func(int)
}

// watch handles the signals arriving on sigs until the process ends.
func (h *signalExit) watch(sigs <-chan os.Signal) {
	for sig := range sigs {
		if h.forwarding.Load() {
			continue // exec passes it to its command
		}
		n, _ := sig.(syscall.Signal)
		if !h.got.CompareAndSwap(0, int32(n)) {
			h.exit(128 + int(n)) // a second signal: now
			return
		}
		h.cancel()
		time.AfterFunc(signalGrace, func() {
			fmt.Fprintf(h.stderr, "credchain: %v: stopped\n", sig)
			h.exit(128 + int(n))
		})
	}
}

// code is 128+N after signal N, else the command's own exit code.
func (h *signalExit) code(code int) int {
	if h == nil {
		return code
	}
	if n := h.got.Load(); n != 0 {
		return 128 + int(n)
	}
	return code
}

// forward makes signals the exec'd command's business while on.
func (h *signalExit) forward(on bool) {
	if h != nil {
		h.forwarding.Store(on)
	}
}
