//go:build integration && linux

package resolver

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stepWallClock makes the kernel report a step of CLOCK_REALTIME (what NTP,
// `date -s` or a resume does), which wakes every TFD_TIMER_CANCEL_ON_SET
// timerfd with ECANCELED. It sets the clock to the value it just read, so
// the machine's clock moves back by the microseconds between the two calls
// and nothing else changes; the timer under test is told where the step
// "landed" through its now function.
func stepWallClock(t *testing.T) {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		t.Fatalf("clock_gettime: %v", err)
	}
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		t.Fatalf("clock_settime (this test steps the wall clock and needs root or CAP_SYS_TIME; run it as .ci/run does): %v", err)
	}
}

// TestWallTimerRechecksItsDeadlineWhenTheClockSteps: a step of the wall
// clock wakes the timerfd at once. If the clock landed before the deadline
// the timer re-arms for the same absolute time and keeps waiting (a later
// step wakes it again, so it was re-armed with cancel-on-set), also when
// another step races the re-arm; once a step lands past the deadline it
// fires, exactly once, without waiting for the kernel's expiry an hour
// away.
func TestWallTimerRechecksItsDeadlineWhenTheClockSteps(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test steps the wall clock and needs root (run it as .ci/run does)")
	}
	deadline := time.Now().Add(time.Hour)
	woken := make(chan struct{})
	landed := make(chan time.Time)
	fired := make(chan struct{}, 2)
	now := func() time.Time {
		woken <- struct{}{}
		return <-landed
	}
	tm := newWallTimer(deadline, func() { fired <- struct{}{} }, now)
	t.Cleanup(func() { tm.Stop() })
	if _, ok := tm.(*wallTimer); !ok {
		t.Fatalf("newWallTimer returned a %T; want the timerfd timer (is timerfd_create refused here?)", tm)
	}

	// The clock is stepped until the timer wakes: the timer re-arms after
	// its now function returns, and a step the kernel sees before the
	// re-arm is (rightly) not a step for the re-armed timer.
	awaitWake := func(step string) {
		t.Helper()
		retry := time.NewTicker(20 * time.Millisecond)
		defer retry.Stop()
		giveUp := time.After(30 * time.Second)
		for {
			stepWallClock(t)
			select {
			case <-woken:
				return
			case <-fired:
				t.Fatalf("%s: the timer fired instead of re-checking its deadline", step)
			case <-giveUp:
				t.Fatalf("%s: stepping the wall clock did not wake the timer (not armed with TFD_TIMER_CANCEL_ON_SET, or not re-armed)", step)
			case <-retry.C:
			}
		}
	}

	awaitWake("first step")
	// Another step while the timer is between its wake and its re-arm (NTP
	// stepping twice, a resume right after a step): the re-arm reports
	// ECANCELED, and the timer must look at the clock again, not give up.
	stepWallClock(t)
	landed <- deadline.Add(-time.Minute) // before the deadline: keep waiting

	awaitWake("a step racing the re-arm")
	landed <- deadline.Add(-time.Minute)

	awaitWake("a later step")
	landed <- deadline.Add(time.Second) // past the deadline: fire now

	select {
	case <-fired:
	case <-time.After(30 * time.Second):
		t.Fatal("a step past the deadline did not fire the timer")
	}
	select {
	case <-fired:
		t.Fatal("the timer fired twice")
	default:
	}
}
