package resolver

import (
	"testing"
	"time"
)

// The portable polling timer (the fallback when no timerfd is available)
// fires once the wall clock has reached its deadline, never before; a
// deadline already passed fires at once; Stop prevents the call and reports
// whether it stopped anything.
func TestPollingTimer(t *testing.T) {
	fired := make(chan time.Time, 1)
	deadline := time.Now().Add(30 * time.Millisecond)
	pollingTimerAt(deadline, func() { fired <- time.Now() })
	if got := <-fired; got.Before(deadline) {
		t.Fatalf("fired %v before its deadline", deadline.Sub(got))
	}

	past := make(chan struct{})
	pollingTimerAt(time.Now().Add(-time.Hour), func() { close(past) })
	<-past

	stopped := pollingTimerAt(time.Now().Add(20*time.Millisecond), func() { t.Error("stopped timer fired") })
	if !stopped.Stop() {
		t.Fatal("Stop reported the timer already stopped")
	}
	if stopped.Stop() {
		t.Fatal("a second Stop reported stopping the timer")
	}
	control := make(chan struct{})
	pollingTimerAt(time.Now().Add(40*time.Millisecond), func() { close(control) })
	<-control // by now the stopped timer's deadline has passed too
}

// A deadline further away than one polling step is still reached: the timer
// re-reads the wall clock after each step.
func TestPollingTimerSpansSteps(t *testing.T) {
	fired := make(chan time.Time, 1)
	deadline := time.Now().Add(pollInterval + 100*time.Millisecond)
	pollingTimerAt(deadline, func() { fired <- time.Now() })
	if got := <-fired; got.Before(deadline) {
		t.Fatalf("fired %v before its deadline", deadline.Sub(got))
	}
}

// A wall timer's Stop reports true once, and a stopped timer never fires.
func TestWallTimerStopOnce(t *testing.T) {
	tm := SystemClock().At(time.Now().Add(time.Hour), func() { t.Error("stopped timer fired") })
	if !tm.Stop() || tm.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
}
