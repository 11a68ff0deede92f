package anthropicsdk_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/integrations/anthropicsdk"
	"github.com/credchain/credchain/resolver"
)

// TestSoak drives the real SDK from many goroutines while the API rotates
// the helper's key: no request may fail, the helper must run exactly once
// per rotation, and Close must leave no goroutine behind. By default a
// short run; CREDCHAIN_SOAK=1 runs the full one (1,000 goroutines, a
// rotation every 2 s, 30 s), e.g.
//
//	CREDCHAIN_SOAK=1 go test -race -run TestSoak -v -timeout 10m .
func TestSoak(t *testing.T) {
	workers, period, total := 20, time.Second, 3*time.Second
	full := os.Getenv("CREDCHAIN_SOAK") == "1"
	if full {
		workers, period, total = 1000, 2*time.Second, 30*time.Second
	}
	hermetic(t)
	s := newStandIn(t)
	// The helper reads the key the API currently accepts from a "vault"
	// file, so a key it fetched is valid until the next rotation.
	vault := filepath.Join(t.TempDir(), "vault")
	rotate := func(n int) {
		key := fmt.Sprintf("sk-vault-key-%d", n)
		if err := os.WriteFile(vault, []byte(key+"\n"), 0o600); err != nil {
			t.Error(err)
		}
		s.accept("api-key", key) // the old key is revoked
	}
	rotate(1)
	command, counter := vaultHelper(t, vault)
	t.Setenv("ANTHROPIC_BASE_URL", s.srv.URL)

	base := &http.Transport{MaxIdleConnsPerHost: workers}
	before := runtime.NumGoroutine()
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{apikey.NewHelper(apikey.HelperOptions{Command: command})}})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := anthropicsdk.Options(context.Background(), r, anthropicsdk.Settings{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	client := anthropic.NewClient(opts...)

	ctx, stop := context.WithTimeout(context.Background(), total)
	defer stop()
	// Rotations stop half a period before the requests do, so every
	// rotation is followed by requests that meet it.
	rctx, rstop := context.WithTimeout(ctx, total-period/2)
	defer rstop()
	var rotations atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
				rotate(int(rotations.Add(1)) + 1)
			}
		}
	})
	// A request that lives through a rotation can meet a key revoked after
	// its refresh: it is retried once, so it may fail if it also lives
	// through the next one. Failures are counted by how many rotations the
	// request lived through.
	var sent atomic.Int64
	var mu sync.Mutex
	var firstErrs []string
	var latencies []time.Duration
	failedBy := map[int32]int{} // rotations lived through → failed requests
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				startRot, start := rotations.Load(), time.Now()
				_, err := client.Messages.New(rctx, params())
				took, lived := time.Since(start), rotations.Load()-startRot
				cancel()
				sent.Add(1)
				mu.Lock()
				latencies = append(latencies, took)
				if err != nil {
					failedBy[lived]++
					if len(firstErrs) < 3 {
						firstErrs = append(firstErrs, err.Error())
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	runs := helperRuns(t, counter)
	closeErr := r.Close()
	base.CloseIdleConnections()
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // measuring, not synchronising: goroutines of closed connections wind down
	}
	rot := int(rotations.Load())
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	failed := 0
	for _, n := range failedBy {
		failed += n
	}
	t.Logf("workers %d, rotation every %v for %v: %d requests (latency p50 %v, p99 %v, max %v), %d failed (by rotations lived through: %v), %d API refusals; %d rotations, %d helper runs (1 initial + %.2f per rotation); goroutines %d before, %d after Close",
		workers, period, total, sent.Load(), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond),
		failed, failedBy, s.refused.Load(), rot, runs, float64(runs-1)/float64(max(rot, 1)), before, after)
	if closeErr != nil {
		t.Fatalf("Close: %v", closeErr)
	}
	if failedBy[0] != 0 || (!full && failed != 0) {
		t.Fatalf("%d requests failed (by rotations lived through: %v), e.g.\n%v", failed, failedBy, firstErrs)
	}
	// Never more than one helper run per rotation; in the short run, where
	// requests are fast, exactly one.
	if runs > rot+1 || (!full && runs != rot+1) {
		t.Fatalf("helper ran %d times for %d rotations, want %d", runs, rot, rot+1)
	}
	if after > before {
		t.Fatalf("%d goroutines after Close, %d before", after, before)
	}
	s.checkNoProblems(t)
}

// vaultHelper is an API-key helper that prints the vault's key and counts
// its runs.
func vaultHelper(t *testing.T, vault string) (command, counter string) {
	dir := t.TempDir()
	counter = filepath.Join(dir, "runs")
	script := filepath.Join(dir, "helper.sh")
	body := "#!/bin/sh\nn=$(( $(cat " + counter + " 2>/dev/null || echo 0) + 1 ))\necho $n > " + counter + "\ncat " + vault + "\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return script, counter
}
