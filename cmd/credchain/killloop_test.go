//go:build integration && unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// rotatingEndpoint is a token endpoint that rotates refresh tokens
// strictly: each refresh token works once, as with providers that detect
// reuse. A client that dies after the rotation without having stored the
// new token has lost its login.
type rotatingEndpoint struct {
	mu      sync.Mutex
	n       int
	current string
	rotated int
	sentAt  time.Time // when the last rotated answer was fully sent
}

func (e *rotatingEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != e.current {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	e.n++
	e.rotated++
	e.current = fmt.Sprintf("rt-%04d-rotated-refresh-token", e.n)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("at-%04d-access-token-abcdefgh", e.n), "token_type": "bearer",
		"expires_in": 3600, "refresh_token": e.current,
	})
	w.(http.Flusher).Flush()
	e.sentAt = time.Now()
}

// killLoopRuns is how many kills TestKillDuringRefreshKeepsTheLogin makes
// per backend: CREDCHAIN_KILL_LOOP (250 for the figure in the docs), else a
// few for a quick run.
func killLoopRuns(t *testing.T) int {
	if v := os.Getenv("CREDCHAIN_KILL_LOOP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CREDCHAIN_KILL_LOOP=%q", v)
		}
		return n
	}
	return 15
}

// TestKillDuringRefreshKeepsTheLogin runs `credchain token` with an
// expired access token against a strictly rotating endpoint and SIGKILLs
// it at a random instant of its run, again and again; after every kill the
// store must hold the refresh token the endpoint will accept next (the old
// one if it was killed before the rotation, the new one after).
//
// A kill after the endpoint rotated the token but before its answer reached
// credchain loses the login whatever the client does (the provider spent
// the old token; only a provider-side grace period helps): those are
// counted apart, as "in flight". Every kill after the answer was sent must
// find the new token stored.
func TestKillDuringRefreshKeepsTheLogin(t *testing.T) {
	want := killLoopRuns(t)
	testenv.Hermetic(t)
	bin := itest.BuildCredchain(t)
	for _, backend := range []string{"plaintext", "file"} {
		t.Run(backend, func(t *testing.T) {
			ep := &rotatingEndpoint{current: "rt-0000-initial-refresh-token"}
			srv := httptest.NewServer(ep)
			defer srv.Close()
			dir := t.TempDir()
			env := cliEnv(t, "CREDCHAIN_STORE_BACKEND="+backend, "CREDCHAIN_STORE_DIR="+dir,
				"CREDCHAIN_FILE_PASSWORD=kill-loop-password",
				"CREDCHAIN_OAUTH_TOKEN_URL="+srv.URL+"/token", "CREDCHAIN_OAUTH_AUTHORIZE_URL="+srv.URL+"/authorize",
				"CREDCHAIN_OAUTH_CLIENT_ID=kill-loop")
			key := oauthStoreKey(t, env)
			store, err := cache.Open(context.Background(), cache.Options{Backend: backend, Dir: dir,
				FilePassword: func() (string, error) { return "kill-loop-password", nil }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// expire makes the stored access token unusable, so the next
			// run must refresh; it returns the stored refresh token.
			expire := func() string {
				c := &resolver.Credential{Source: "oauth", Kind: resolver.KindBearer, Token: resolver.NewSecret("at-expired-0000000000"),
					Meta: map[string]string{"token_url": srv.URL + "/token", "client_id": "kill-loop"}}
				if data, err := store.Get(ctx, key); err == nil {
					if c, err = resolver.DecodeRecord(data); err != nil {
						t.Fatalf("stored record after a kill: %v", err)
					}
				} else {
					c.Refresh = resolver.NewSecret(ep.current)
				}
				c.Expiry, c.IssuedAt, c.RefreshAt = time.Now().Add(-time.Hour), time.Now().Add(-2*time.Hour), time.Time{}
				data, _ := resolver.EncodeRecord(c, time.Now())
				if err := store.Set(ctx, key, data); err != nil {
					t.Fatal(err)
				}
				return c.Refresh.Reveal()
			}
			var killedAt time.Time
			run := func(kill time.Duration) (killed bool) {
				cmd := exec.Command(bin, "token")
				cmd.Env = env
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				timer := time.AfterFunc(kill, func() { killedAt = time.Now(); _ = cmd.Process.Signal(syscall.SIGKILL) })
				err := cmd.Wait()
				timer.Stop()
				ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if err != nil && !ws.Signaled() {
					t.Fatalf("credchain token failed without being killed: %v", err)
				}
				return ws.Signaled()
			}
			// The length of an undisturbed run sets the range of kill times:
			// uniform over the whole run, so every instant of the refresh
			// (request, answer, store write) is hit.
			var runs []time.Duration
			for range 5 {
				expire()
				start := time.Now()
				run(time.Hour)
				runs = append(runs, time.Since(start))
			}
			slices.Sort(runs)
			longest := runs[len(runs)/2]
			// grace is how long credchain may take, after the answer was
			// sent, to receive it and publish the new token: on a loaded
			// machine the child may not even run that soon.
			const grace = 5 * time.Millisecond
			kills, afterRotation, inFlight, soon, lost := 0, 0, 0, 0, 0
			for attempt := 0; kills < want && attempt < 20*want; attempt++ {
				expire()
				ep.mu.Lock()
				before := ep.rotated
				ep.mu.Unlock()
				if !run(rand.N(longest)) {
					continue
				}
				kills++
				stored := expire()
				ep.mu.Lock()
				if ep.rotated != before {
					afterRotation++
				}
				if stored != ep.current {
					switch {
					case killedAt.Before(ep.sentAt):
						inFlight++
					case killedAt.Before(ep.sentAt.Add(grace)):
						soon++
					default:
						lost++
						t.Logf("lost: killed %v after the answer was sent", killedAt.Sub(ep.sentAt))
					}
					ep.current = stored // a new login, so the loop goes on
				}
				ep.mu.Unlock()
			}
			// The next open removes what a killed writer left.
			if _, err := cache.Open(ctx, cache.Options{Backend: backend, Dir: dir,
				FilePassword: func() (string, error) { return "kill-loop-password", nil }}); err != nil {
				t.Fatal(err)
			}
			leftovers, _ := os.ReadDir(dir + "/" + backend)
			for _, e := range leftovers {
				if e.Name()[0] == '.' {
					t.Errorf("temporary file %s left after the kills (a new open must remove it)", e.Name())
				}
			}
			t.Logf("%s store: %d kills, %d after the endpoint rotated the refresh token; logins lost: %d in total = "+
				"%d in flight (killed before the answer was sent) + %d within %v of the answer + %d later; run ≈ %v",
				backend, kills, afterRotation, inFlight+soon+lost, inFlight, soon, grace, lost, longest.Round(time.Millisecond))
			if lost > 0 {
				t.Errorf("%d of %d kills more than %v after the answer lost the rotated refresh token", lost, kills, grace)
			}
		})
	}
}
