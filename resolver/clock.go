package resolver

import "time"

// Clock is the resolver's view of time, injectable for tests.
//
// The hot path reads no clock at all (a clock read costs more than the rest
// of Resolve on virtual machines whose clock source has no vDSO). Instead a
// credential's transitions — fresh to stale at its refresh time, stale to
// expired at its expiry — are driven by At, a timer on the WALL clock: it
// fires when the wall clock reaches t, also when it gets there by a jump
// (the clock is stepped) or across a suspend (a laptop waking up), which
// monotonic timers such as time.AfterFunc do not notice. That is how a
// credential is never served past its wall-clock expiry.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f after d on the monotonic clock (backoff delays).
	AfterFunc(d time.Duration, f func()) Timer
	// At runs f once the wall clock reaches t.
	At(t time.Time, f func()) Timer
}

// Timer is a timer started by a Clock.
type Timer interface {
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}
func (systemClock) At(t time.Time, f func()) Timer { return wallTimerAt(t, f) }

// SystemClock is the real clock.
func SystemClock() Clock { return systemClock{} }
