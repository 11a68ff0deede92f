package resolver

import (
	"context"
	"log/slog"
	"time"
)

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	// EventRefreshed: a new credential was obtained and stored.
	EventRefreshed EventKind = "refreshed"
	// EventAdopted: another process had already refreshed; its credential
	// was taken from the store without calling the source.
	EventAdopted EventKind = "adopted"
	// EventRefreshFailed: a refresh failed; Err says why, NextRetry when
	// the scheduler tries again (zero if the credential has expired and the
	// next caller will retry).
	EventRefreshFailed EventKind = "refresh_failed"
	// EventLoginRequired: the stored login is dead; a person must log in.
	EventLoginRequired EventKind = "login_required"
	// EventStoreFailed: the store could not be read or written. A credential
	// already in memory is still used; without one, the source's error is
	// a StoreReadError (ErrStoreRead), never "not logged in".
	EventStoreFailed EventKind = "store_failed"
)

// Event reports something the scheduler did. It never holds a secret.
type Event struct {
	Kind      EventKind
	Source    string
	Time      time.Time
	Expiry    time.Time // of the credential concerned, if any
	Attempt   int       // consecutive failures so far
	NextRetry time.Time
	Err       error
}

func (r *Resolver) emit(ev Event) {
	ev.Time = r.clock.Now()
	if r.cfg.OnEvent != nil {
		r.cfg.OnEvent(ev)
	}
	if l := r.cfg.Logger; l != nil {
		level := slog.LevelInfo
		if ev.Err != nil {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("source", ev.Source)}
		if !ev.Expiry.IsZero() {
			attrs = append(attrs, slog.Time("expires", ev.Expiry))
		}
		if ev.Attempt > 0 {
			attrs = append(attrs, slog.Int("attempt", ev.Attempt))
		}
		if !ev.NextRetry.IsZero() {
			attrs = append(attrs, slog.Time("next_retry", ev.NextRetry))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("error", ev.Err.Error()))
		}
		l.LogAttrs(context.Background(), level, "credchain: "+string(ev.Kind), attrs...)
	}
}
