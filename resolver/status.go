package resolver

import (
	"context"
	"errors"
	"maps"
	"time"
)

// SourceStatus is one source's line in Status. It holds no secret: Secret
// is masked.
type SourceStatus struct {
	Name       string     `json:"name"`
	Configured bool       `json:"configured"`
	Reason     string     `json:"reason,omitempty"`
	Active     bool       `json:"active"`
	Kind       Kind       `json:"kind,omitempty"`
	Secret     string     `json:"secret,omitempty"`
	State      string     `json:"state,omitempty"` // fresh | stale | expired
	ExpiresAt  *time.Time `json:"expires_at"`
	RefreshAt  *time.Time `json:"refresh_at,omitempty"`
	NextRetry  *time.Time `json:"next_retry,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	// Identity is whose credential the source's stored record is (its
	// Identifier's Identity); StoreKey is the record's key in the store.
	Identity string `json:"identity,omitempty"`
	StoreKey string `json:"store_key,omitempty"`
	// StoreError is set when the stored record exists but cannot be read.
	StoreError string            `json:"store_error,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"`
}

// StoreStatus describes the store.
type StoreStatus struct {
	Backend string            `json:"backend"`
	Info    map[string]string `json:"info,omitempty"`
}

// StoreDescriber is implemented by stores with more to say in status
// (directory, keyring service).
type StoreDescriber interface {
	Describe() map[string]string
}

// Status is the state of the whole chain.
type Status struct {
	Active  *string        `json:"active"`
	Sources []SourceStatus `json:"sources"`
	Store   StoreStatus    `json:"store"`
	Error   string         `json:"error,omitempty"`
}

// Status walks the chain like Resolve and reports every source: configured
// or why not, which one wins, expiry, the last refresh failure. Sources
// below the winner are only probed (or looked up in the store), never
// fetched.
func (r *Resolver) Status(ctx context.Context) Status {
	var st Status
	if r.cfg.Store != nil {
		st.Store.Backend = r.cfg.Store.Backend()
		if d, ok := r.cfg.Store.(StoreDescriber); ok {
			st.Store.Info = d.Describe()
		}
	} else {
		st.Store.Backend = "none"
	}
	decided := false
	for _, e := range r.entries {
		ss := SourceStatus{Name: e.name}
		if d, ok := e.src.(Describer); ok {
			ss.Meta = d.Describe()
		}
		if !decided {
			_, err := e.resolveOnce(ctx)
			switch {
			case err == nil:
				ss.Configured, ss.Active, decided = true, true, true
				name := e.name
				st.Active = &name
			case errors.Is(err, ErrNotConfigured):
				ss.Reason = Reason(err)
			default:
				ss.Configured, ss.Active, decided = true, true, true
				ss.LastError = err.Error()
				st.Error = err.Error()
				name := e.name
				st.Active = &name
			}
		} else {
			ss.Configured, ss.Reason = e.peekConfigured(ctx)
		}
		e.describe(&ss)
		st.Sources = append(st.Sources, ss)
	}
	if !decided {
		var reasons []SourceReason
		for _, s := range st.Sources {
			reasons = append(reasons, SourceReason{Source: s.Name, Reason: s.Reason})
		}
		st.Error = (&NoSourceError{Reasons: reasons}).Error()
	}
	return st
}

// peekConfigured says whether a source below the winner applies, without
// fetching.
func (e *entry) peekConfigured(ctx context.Context) (bool, string) {
	if p, ok := e.src.(Prober); ok {
		if err := p.Probe(); err != nil {
			return false, Reason(err)
		}
		return true, "shadowed by a higher source"
	}
	if e.persist {
		e.startLoad()
		select {
		case <-e.loaded:
		case <-ctx.Done():
			return false, ctx.Err().Error()
		}
		if e.snap.Load() != nil {
			return true, "shadowed by a higher source"
		}
		e.mu.Lock()
		loadErr := e.loadErr
		e.mu.Unlock()
		if loadErr != nil {
			return true, "shadowed by a higher source; its stored record cannot be read"
		}
		return false, "nothing stored"
	}
	return false, "not checked (below the active source)"
}

func (e *entry) describe(ss *SourceStatus) {
	e.mu.Lock()
	lastErr, nextRetry, loadErr := e.fail.last, e.fail.nextRetry, e.loadErr
	e.mu.Unlock()
	if e.persist {
		ss.Identity, ss.StoreKey = e.storeIdentity(), e.storeKey()
	}
	if loadErr != nil {
		ss.StoreError = loadErr.Error()
	}
	if lastErr != nil && ss.LastError == "" && ss.Configured {
		ss.LastError = lastErr.Error()
	}
	if !nextRetry.IsZero() {
		t := nextRetry.UTC()
		ss.NextRetry = &t
	}
	s := e.snap.Load()
	if s == nil || !ss.Configured {
		return
	}
	c := s.cred
	ss.Kind = c.Kind
	ss.Secret = c.Masked()
	if !c.Expiry.IsZero() {
		t := c.Expiry.UTC()
		ss.ExpiresAt = &t
	}
	switch {
	case s.state == stateExpired || !servable(c, e.r.clock.Now()):
		ss.State = "expired"
	case s.state == stateStale:
		ss.State = "stale"
	default:
		ss.State = "fresh"
	}
	if !s.refreshAt.IsZero() {
		t := s.refreshAt.UTC()
		ss.RefreshAt = &t
	}
	if len(c.Meta) > 0 {
		merged := make(map[string]string, len(ss.Meta)+len(c.Meta))
		maps.Copy(merged, ss.Meta)
		maps.Copy(merged, c.Meta)
		ss.Meta = merged
	}
}
