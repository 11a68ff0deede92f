package resolver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

func staticSource(name, token string) *fakeSource {
	return &fakeSource{name: name, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret(token)}, nil
	}}
}

func absentSource(name, reason string) resolver.Source {
	return probingSource{&fakeSource{name: name, probe: resolver.NotConfigured("%s", reason), fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		panic("Fetch called on a source whose probe said it is not configured")
	}}}
}

func failingSource(name string, err error) *fakeSource {
	return &fakeSource{name: name, fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
		return nil, err
	}}
}

func TestChainSemantics(t *testing.T) {
	broken := errors.New("helper exited with status 1")
	tests := []struct {
		name       string
		sources    []resolver.Source
		wantToken  string
		wantErr    error
		wantSource string
		errHas     []string
	}{
		{
			name:      "first configured source wins",
			sources:   []resolver.Source{absentSource("a", "A is not set"), staticSource("b", "key-b"), staticSource("c", "key-c")},
			wantToken: "key-b", wantSource: "b",
		},
		{
			name:    "a configured source that fails stops the chain",
			sources: []resolver.Source{absentSource("a", "A is not set"), failingSource("b", broken), staticSource("c", "key-c")},
			wantErr: broken, errHas: []string{"b: helper exited with status 1"},
		},
		{
			name: "not configured reported by Fetch moves on",
			sources: []resolver.Source{failingSource("a", resolver.NotConfigured("nothing stored; run credchain login")),
				staticSource("b", "key-b")},
			wantToken: "key-b", wantSource: "b",
		},
		{
			name:    "nothing configured lists every source and why",
			sources: []resolver.Source{absentSource("a", "A is not set"), absentSource("b", "B is not set"), failingSource("c", resolver.NotConfigured("nothing stored"))},
			wantErr: resolver.ErrNoSource,
			errHas:  []string{"a: A is not set", "b: B is not set", "c: nothing stored"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(t, testenv.NewFakeClock(t0), nil, nil, tc.sources...)
			c, err := r.Resolve(context.Background())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Token.Reveal() != tc.wantToken || c.Source != tc.wantSource || r.Active() != tc.wantSource {
				t.Fatalf("got %s from %q (active %q), want %s from %q", c.Token.Reveal(), c.Source, r.Active(), tc.wantToken, tc.wantSource)
			}
		})
	}
}

func TestDuplicateSourceNamesRefused(t *testing.T) {
	_, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{staticSource("a", "x"), staticSource("a", "y")}})
	if err == nil || !strings.Contains(err.Error(), `"a" appears twice`) {
		t.Fatalf("err = %v", err)
	}
}

func TestStatusReportsEverySource(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	exp := &fakeSource{name: "exp", fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, nil, absentSource("a", "A is not set"), exp, staticSource("c", "never-fetched"))
	st := r.Status(context.Background())
	if st.Active == nil || *st.Active != "exp" {
		t.Fatalf("active = %v", st.Active)
	}
	if st.Sources[0].Configured || st.Sources[0].Reason != "A is not set" {
		t.Errorf("a: %+v", st.Sources[0])
	}
	if s := st.Sources[1]; !s.Active || s.State != "fresh" || s.ExpiresAt == nil || !s.ExpiresAt.Equal(t0.Add(time.Hour)) || s.Secret != "****efgh" {
		t.Errorf("exp: %+v", s)
	}
	if st.Sources[2].Active {
		t.Errorf("c should be shadowed: %+v", st.Sources[2])
	}
}
