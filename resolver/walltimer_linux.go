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
}

func wallTimerAt(t time.Time, f func()) Timer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return pollingTimerAt(t, f)
	}
	w := &wallTimer{file: os.NewFile(uintptr(fd), "credchain-wall-timer")}
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
			// The wall clock was stepped: fire if the deadline has passed,
			// else re-arm for the same absolute time.
			if !time.Now().Before(t) {
				f()
				return
			}
			if w.arm(t) != nil {
				return
			}
		default:
			return
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
