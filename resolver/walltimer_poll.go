package resolver

import (
	"sync"
	"time"
)

// pollingTimer is the portable wall-clock timer: it sleeps on the monotonic
// clock in steps of at most pollInterval and re-reads the wall clock after
// each, so a clock jump or a suspend is noticed within one step.
type pollingTimer struct {
	once sync.Once
	stop chan struct{}
}

const pollInterval = time.Second

func pollingTimerAt(t time.Time, f func()) Timer {
	p := &pollingTimer{stop: make(chan struct{})}
	go func() {
		for {
			d := time.Until(t)
			if d <= 0 {
				select {
				case <-p.stop:
				default:
					f()
				}
				return
			}
			tm := time.NewTimer(min(d, pollInterval))
			select {
			case <-p.stop:
				tm.Stop()
				return
			case <-tm.C:
			}
		}
	}()
	return p
}

func (p *pollingTimer) Stop() bool {
	stopped := false
	p.once.Do(func() { close(p.stop); stopped = true })
	return stopped
}
