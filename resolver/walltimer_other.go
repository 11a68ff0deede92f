//go:build !linux

package resolver

import "time"

func wallTimerAt(t time.Time, f func()) Timer { return pollingTimerAt(t, f) }
