package resolver

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// wallTimer is a CLOCK_REALTIME timerfd armed at an absolute time with
// TFD_TIMER_CANCEL_ON_SET: the kernel fires it when the wall clock passes t,
// including right after a resume from suspend, and wakes it with ECANCELED
// when the clock is stepped, so the deadline is re-checked at once. Reads go
// through the runtime poller, so a waiting timer holds no thread.
type wallTimer struct {
	file    *os.File
	stopped atomic.Bool
	// now reads the wall clock when a step wakes the timer; tests answer
	// it to tell where the step landed without moving the machine's clock.
	now func() time.Time
}

func wallTimerAt(t time.Time, f func()) Timer { return newWallTimer(t, f, time.Now) }

func newWallTimer(t time.Time, f func(), now func() time.Time) Timer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return pollingTimerAt(t, f)
	}
	w := &wallTimer{file: os.NewFile(uintptr(fd), "credchain-wall-timer"), now: now}
	if err := w.arm(t); err != nil {
		_ = w.file.Close()
		return pollingTimerAt(t, f)
	}
	go w.wait(t, f)
	return w
}

func (w *wallTimer) arm(t time.Time) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(t.UnixNano(), 1))}
	var serr error
	rc, err := w.file.SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(fd uintptr) {
		serr = unix.TimerfdSettime(int(fd), unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil)
	}); err != nil {
		return err
	}
	return serr
}

func (w *wallTimer) wait(t time.Time, f func()) {
	defer w.file.Close()
	var buf [8]byte
	for {
		_, err := w.file.Read(buf[:])
		if w.stopped.Load() {
			return
		}
		switch {
		case err == nil:
			f()
			return
		case errors.Is(err, unix.ECANCELED):
			due, err := w.recheck(t)
			switch {
			case due:
				f()
				return
			case err != nil:
				// The timerfd cannot be re-armed: keep the deadline with
				// the portable timer rather than never firing.
				pollingTimerAt(t, func() {
					if !w.stopped.Load() {
						f()
					}
				})
				return
			}
		default:
			return
		}
	}
}

// recheck handles a step of the wall clock: it reports whether the deadline
// has passed, and otherwise re-arms the timer for the same absolute time.
// A further step between the check and the re-arm makes timerfd_settime
// fail with ECANCELED (the timer is armed, and that step is consumed), so
// the deadline is checked again rather than the timer given up.
func (w *wallTimer) recheck(t time.Time) (due bool, err error) {
	for {
		if !w.now().Before(t) {
			return true, nil
		}
		if err := w.arm(t); !errors.Is(err, unix.ECANCELED) {
			return false, err
		}
	}
}

func (w *wallTimer) Stop() bool {
	if !w.stopped.CompareAndSwap(false, true) {
		return false
	}
	// Closing the file wakes the blocked Read through the poller.
	_ = w.file.Close()
	return true
}
