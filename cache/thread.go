package cache

import "runtime"

// osThread runs functions on one locked OS thread. The kernel keeps the
// process and thread keyrings in a thread's credentials, and Go moves
// goroutines between threads, so a keyring made on one thread is not
// reachable ("possessed") from the others: the keyctl backend with scope
// "process" or "thread" does all its calls on one thread. The thread ends
// when the backend holding it is garbage collected.
type osThread struct {
	reqs chan func()
}

func newOSThread() *osThread {
	t := &osThread{reqs: make(chan func())}
	go func(reqs <-chan func()) {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		for f := range reqs {
			f()
		}
	}(t.reqs)
	return t
}

// release makes the thread exit once owner is unreachable.
func (t *osThread) release(owner *keyringBackend) {
	runtime.AddCleanup(owner, func(reqs chan func()) { close(reqs) }, t.reqs)
}

// stop ends the thread at once; no call may be in progress.
func (t *osThread) stop() { close(t.reqs) }

// do runs f on the thread and waits for it.
func (t *osThread) do(f func()) {
	if t == nil {
		f()
		return
	}
	done := make(chan struct{})
	t.reqs <- func() {
		defer close(done)
		f()
	}
	<-done
}
