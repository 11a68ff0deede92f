//go:build integration

package oauthpkce_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestTransport401SharesOneRefresh: an API on 127.0.0.1 that accepts only
// tokens Dex accepts, and has just revoked the current one, answers 401;
// concurrent requests through resolver.Transport recover with one refresh
// at Dex and are retried.
func TestTransport401SharesOneRefresh(t *testing.T) {
	testenv.Hermetic(t)
	d := itest.StartDex(t, itest.DexOptions{TokenTTL: time.Minute})
	src := newSource(t, d, nil)
	cred := login(t, src, d.User(t, "judy"))
	const n = 10
	var mu sync.Mutex
	refused := map[string]bool{cred.Token.Reveal(): true}
	// No refusal is answered before all n requests have arrived with the
	// revoked token, so the n recoveries overlap (a gate, not luck).
	allArrived := make(chan struct{})
	arrived := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		bad := refused[tok]
		if bad {
			if arrived++; arrived == n {
				close(allArrived)
			}
		}
		mu.Unlock()
		if bad {
			<-allArrived
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		req, _ := http.NewRequest(http.MethodGet, d.Direct+"/dex/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if bad || err != nil || resp.StatusCode != http.StatusOK {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer api.Close()
	st := cache.NewMemory()
	r := newResolver(t, src, st, nil, nil)
	if err := r.Store(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: r.Transport(nil)}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(api.URL)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("HTTP %d after the retry", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if calls := d.Proxy.TokenCalls("refresh_token"); len(calls) != 1 {
		t.Errorf("refresh calls = %d, want 1 shared by %d refused requests", len(calls), n)
	}
	if got := storedCred(t, st); got.SameSecret(cred) {
		t.Error("the store still holds the refused token")
	}
}
