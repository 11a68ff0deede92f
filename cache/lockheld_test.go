package cache_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
)

// The message of a busy lock names who holds it and how long the caller
// waited, and offers `kill PID` only for another process.
func TestLockHeldErrorSaysWhoHoldsIt(t *testing.T) {
	other := os.Getpid() + 1
	for _, tc := range []struct {
		name      string
		err       cache.LockHeldError
		want, not []string
	}{
		{"another process, waited", cache.LockHeldError{Key: "k", Path: "/p", PID: other, Waited: 1500 * time.Millisecond},
			[]string{"by credchain pid", "gave up after waiting 1.5s", "`kill "}, []string{"by this process"}},
		{"this process, no wait", cache.LockHeldError{Key: "k", Path: "/p", PID: os.Getpid()},
			[]string{"by this process"}, []string{"gave up", "kill"}},
		{"unknown holder", cache.LockHeldError{Key: "k", Path: "/p", Err: context.DeadlineExceeded},
			[]string{"is held: context deadline exceeded"}, []string{"pid", "kill", "gave up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(msg, n) {
					t.Errorf("%q contains %q", msg, n)
				}
			}
			if !errors.Is(&tc.err, cache.ErrLockBusy) {
				t.Error("does not match ErrLockBusy")
			}
		})
	}
}
