package resolver

import "time"

// Clock is the resolver's view of time, injectable for tests. Expiry checks
// use Now's wall-clock reading (UnixNano), never the monotonic clock, so a
// credential is not served past its expiry after a suspended machine wakes
// up or the clock is stepped.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer started by Clock.AfterFunc.
type Timer interface {
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// SystemClock is the real clock.
func SystemClock() Clock { return systemClock{} }
