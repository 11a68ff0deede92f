package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// LogoutAll removes the record of the current identity and those the same
// source keeps for other identities, and leaves other sources' records.
func TestLogoutAllRemovesEveryIdentitysRecord(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	store := cache.NewMemory()
	mk := func(id string) identSource {
		return identSource{&fakeSource{name: "s", persistent: true, fetch: tokenAt(clock, time.Hour)}, id}
	}
	a, b := mk("profile-a"), mk("profile-b")
	mustResolve(t, newResolver(t, clock, nil, store, b)) // stores b's record
	other := &fakeSource{name: "other", persistent: true, fetch: tokenAt(clock, time.Hour)}
	mustResolve(t, newResolver(t, clock, nil, store, other))
	r := newResolver(t, clock, nil, store, a)
	mustResolve(t, r) // stores a's record
	removed, err := r.LogoutAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{resolver.StoreKey(a), resolver.StoreKey(b)} {
		if _, err := store.Get(context.Background(), key); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("record %s still stored (%v) after LogoutAll; removed %q", key, err, removed)
		}
	}
	if _, err := store.Get(context.Background(), "other"); err != nil {
		t.Errorf("another source's record was removed: %v", err)
	}
	if !slices.Contains(removed, "s") || len(removed) != 2 {
		t.Errorf("removed = %q, want s and s's other identity", removed)
	}
}

// unlistableStore is a store whose listing fails.
type unlistableStore struct{ *cache.Memory }

func (unlistableStore) Keys(context.Context) ([]string, error) {
	return nil, errors.New("listing is broken")
}

// LogoutAll with no persistent source has nothing to remove and does not
// list the store (so a store that cannot list is no error).
func TestLogoutAllWithNothingStoredDoesNotListTheStore(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	env := &fakeSource{name: "env", fetch: tokenAt(clock, time.Hour)}
	r := newResolver(t, clock, nil, unlistableStore{cache.NewMemory()}, env)
	removed, err := r.LogoutAll(context.Background())
	if err != nil || len(removed) != 0 {
		t.Fatalf("LogoutAll = %q, %v; want nothing removed and no error", removed, err)
	}
}

// Status shows the metadata a credential carries (an OAuth login's account,
// say) next to the source's own description.
func TestStatusShowsTheCredentialsMeta(t *testing.T) {
	clock := testenv.NewFakeClock(t0)
	tok := tokenAt(clock, time.Hour)
	src := &fakeSource{name: "s", fetch: func(ctx context.Context, prev *resolver.Credential, n int) (*resolver.Credential, error) {
		c, err := tok(ctx, prev, n)
		c.Meta = map[string]string{"account": "dev@example.test"}
		return c, err
	}}
	r := newResolver(t, clock, nil, nil, src)
	mustResolve(t, r)
	st := r.Status(context.Background())
	if got := st.Sources[0].Meta["account"]; got != "dev@example.test" {
		t.Fatalf("status meta = %v, want the credential's account", st.Sources[0].Meta)
	}
}

// Watch recognises an AWS credential by the access key ID in the request's
// SigV4 Authorization header: a 403 to a request signed with the current
// key invalidates it, one signed with another key does not.
func TestWatchInvalidatesTheAWSKeyTheRequestWasSignedWith(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDNUMBER2/") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	src := &fakeSource{name: "aws", fetch: func(_ context.Context, _ *resolver.Credential, n int) (*resolver.Credential, error) {
		return &resolver.Credential{Kind: resolver.KindAWS, AWS: &resolver.AWSKeys{
			AccessKeyID: fmt.Sprintf("AKIDNUMBER%d", n), SecretAccessKey: resolver.NewSecret(fmt.Sprintf("aws-secret-key-number-%d-xxxx", n))}}, nil
	}}
	r := newResolverCfg(t, resolver.Config{Sources: []resolver.Source{src}})
	client := &http.Client{Transport: r.Watch(nil)}
	send := func(keyID string) int {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyID+"/20261127/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cur := mustResolve(t, r)
	// Another key, of which the current key's ID is a prefix.
	if st := send("AKIDNUMBER10"); st != 403 || src.calls.Load() != 1 {
		t.Fatalf("a refusal of another key invalidated the current one (status %d, fetches %d)", st, src.calls.Load())
	}
	if st := send(cur.AWS.AccessKeyID); st != 403 {
		t.Fatalf("status %d", st)
	}
	if next := mustResolve(t, r); next.AWS.AccessKeyID != "AKIDNUMBER2" || src.calls.Load() != 2 {
		t.Fatalf("after the refusal Resolve = %v (fetches %d), want the second key", next, src.calls.Load())
	}
}
