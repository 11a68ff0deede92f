package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/providers/gateway"
	"github.com/credchain/credchain/resolver"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func source(env map[string]string, now time.Time) *gateway.Source {
	return gateway.New(gateway.Options{Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return now }})
}

// TestGateway: the session token is a bearer whose expiry comes from its
// JWT exp; bad settings name the variable; an expired session says to sign
// in again.
func TestGateway(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	exp := now.Add(30 * time.Minute)
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantErr   string
		wantExp   time.Time
		isExpired bool
	}{
		{name: "jwt session", env: map[string]string{"ANTHROPIC_BASE_URL": "https://gw.corp.internal", "ANTHROPIC_AUTH_TOKEN": jwt(fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp.Unix()))}, wantExp: exp},
		{name: "opaque token", env: map[string]string{"ANTHROPIC_BASE_URL": "http://127.0.0.1:8080", "ANTHROPIC_AUTH_TOKEN": "opaque-session"}},
		{name: "expired session", env: map[string]string{"ANTHROPIC_BASE_URL": "https://gw.corp.internal", "ANTHROPIC_AUTH_TOKEN": jwt(fmt.Sprintf(`{"exp":%d}`, now.Add(-time.Minute).Unix()))},
			wantErr: "expired at 2026-12-02T11:59:00Z; sign in to the gateway gw.corp.internal again", isExpired: true},
		{name: "no base URL", env: map[string]string{"ANTHROPIC_AUTH_TOKEN": "t"}, wantErr: "CLAUDE_CODE_USE_GATEWAY is set but ANTHROPIC_BASE_URL is not"},
		{name: "invalid base URL", env: map[string]string{"ANTHROPIC_BASE_URL": "gw.corp.internal", "ANTHROPIC_AUTH_TOKEN": "t"}, wantErr: "ANTHROPIC_BASE_URL is invalid"},
		{name: "no token", env: map[string]string{"ANTHROPIC_BASE_URL": "https://gw.corp.internal"}, wantErr: "ANTHROPIC_AUTH_TOKEN is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["CLAUDE_CODE_USE_GATEWAY"] = "1"
			src := source(tc.env, now)
			if err := src.Probe(); err != nil {
				t.Fatal(err)
			}
			cred, err := src.Fetch(context.Background(), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, gateway.ErrSessionExpired) != tc.isExpired {
					t.Fatalf("Fetch = %v, want %q", err, tc.wantErr)
				}
				if tok := tc.env["ANTHROPIC_AUTH_TOKEN"]; len(tok) > 1 && strings.Contains(err.Error(), tok) {
					t.Fatalf("error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cred.Kind != resolver.KindBearer || cred.Token.Reveal() != tc.env["ANTHROPIC_AUTH_TOKEN"] || !cred.Expiry.Equal(tc.wantExp) {
				t.Fatalf("credential %v expiry %v, want %v", cred, cred.Expiry, tc.wantExp)
			}
		})
	}
	if err := source(map[string]string{}, now).Probe(); !errors.Is(err, resolver.ErrNotConfigured) {
		t.Fatalf("Probe without CLAUDE_CODE_USE_GATEWAY: %v", err)
	}
}

func TestJWTExpiry(t *testing.T) {
	for _, tc := range []struct {
		tok  string
		want int64
		ok   bool
	}{
		{jwt(`{"exp":1800000000}`), 1800000000, true},
		{jwt(`{"exp":1.8e9}`), 1800000000, true},
		{jwt(`{"exp":"1800000000"}`), 0, false},
		{jwt(`{"sub":"x"}`), 0, false},
		{"a.b", 0, false},
		{"a.!!!.c", 0, false},
	} {
		got, ok := gateway.JWTExpiry(tc.tok)
		if ok != tc.ok || (ok && got.Unix() != tc.want) {
			t.Errorf("JWTExpiry(%q) = %v, %v", tc.tok, got, ok)
		}
	}
}
