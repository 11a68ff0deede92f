//go:build integration && unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// TestHangingEndpointFailsOnceForAll: four `credchain token` after expiry
// against a token endpoint that hangs and then fails. The process that
// holds the lock makes the one request; the failure it sees is recorded,
// and the others return it without a request of their own (they do not
// queue up behind each other for a request timeout each).
func TestHangingEndpointFailsOnceForAll(t *testing.T) {
	testenv.Hermetic(t)
	bin := itest.BuildCredchain(t)
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
	}))
	defer srv.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)

	dir := t.TempDir()
	env := cliEnv(t, "CREDCHAIN_STORE_BACKEND=plaintext", "CREDCHAIN_STORE_DIR="+dir,
		"CREDCHAIN_OAUTH_TOKEN_URL="+srv.URL+"/token", "CREDCHAIN_OAUTH_AUTHORIZE_URL="+srv.URL+"/authorize",
		"CREDCHAIN_OAUTH_CLIENT_ID=hang")
	key := oauthStoreKey(t, env)
	store, err := cache.Open(context.Background(), cache.Options{Backend: "plaintext", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("at-expired-000000000000"), Refresh: resolver.NewSecret("rt-hang"),
		Expiry: time.Now().Add(-time.Hour), Meta: map[string]string{"token_url": srv.URL + "/token", "client_id": "hang"}}, time.Now())
	if err := store.Set(context.Background(), key, rec); err != nil {
		t.Fatal(err)
	}

	const n = 4
	type out struct {
		err    error
		stderr string
	}
	outs := make(chan out, n)
	start := func() {
		cmd := exec.Command(bin, "token")
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		go func() { err := cmd.Wait(); outs <- out{err, stderr.String()} }()
	}
	start()
	<-arrived // the first holds the lock, its request hangs
	for range n - 1 {
		start()
	}
	unblock()
	shared := 0
	for range n {
		select {
		case o := <-outs:
			if o.err == nil {
				t.Fatalf("credchain token succeeded against a failing endpoint")
			}
			if strings.Contains(o.stderr, "seen by credchain pid") {
				shared++
			}
		case <-time.After(60 * time.Second):
			t.Fatal("a credchain token did not finish")
		}
	}
	if got := requests.Load(); got != 1 {
		t.Fatalf("the token endpoint got %d requests; want 1 (the failure shared with the others)", got)
	}
	if shared != n-1 {
		t.Fatalf("%d processes reported the shared failure; want %d", shared, n-1)
	}
}

// oauthStoreKey is the oauth record's key under env's settings.
func oauthStoreKey(t *testing.T, env []string) string {
	t.Helper()
	st := runBinary(t, env, nil, "status", "--json")
	var status statusJSON
	if err := jsonUnmarshal(st.out, &status); err != nil {
		t.Fatalf("status: %v: %+v", err, st)
	}
	for _, s := range status.Sources {
		if s.Name == "oauth" && s.StoreKey != "" {
			return s.StoreKey
		}
	}
	t.Fatalf("no oauth store key in %s", st.out)
	return ""
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
