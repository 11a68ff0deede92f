package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// TestWrongFilePasswordIsAStoreError: a login stored in the encrypted file
// store and read with the wrong CREDCHAIN_FILE_PASSWORD is an error of its
// own (exit 1, naming the backend and the reason), never "not logged in";
// status shows it; login refuses to overwrite the record unless --force.
func TestWrongFilePasswordIsAStoreError(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	env := func(password string) map[string]string {
		return map[string]string{
			"CREDCHAIN_STORE_BACKEND": "file", "CREDCHAIN_STORE_DIR": dir, "CREDCHAIN_FILE_PASSWORD": password,
			"CREDCHAIN_OAUTH_ISSUER": "http://127.0.0.1:9/dex", "CREDCHAIN_OAUTH_CLIENT_ID": "credchain-test",
			"BROWSER": "true",
		}
	}
	// The record's key, as the settings name it.
	r := runCLI(t, env("right-password"), nil, "status", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status: %v: %+v", err, r)
	}
	key := ""
	for _, s := range st.Sources {
		if s.Name == "oauth" {
			key = s.StoreKey
		}
	}
	if !strings.HasPrefix(key, "oauth.") {
		t.Fatalf("oauth store key %q; want one keyed by identity", key)
	}
	store, err := cache.Open(context.Background(), cache.Options{Backend: "file", Dir: dir,
		FilePassword: func() (string, error) { return "right-password", nil }})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := resolver.EncodeRecord(&resolver.Credential{Source: "oauth", Kind: resolver.KindBearer,
		Token: resolver.NewSecret("stored-access-token-0123456789"), Refresh: resolver.NewSecret("stored-refresh"),
		Expiry: time.Now().Add(time.Hour)}, time.Now())
	if err := store.Set(context.Background(), key, rec); err != nil {
		t.Fatal(err)
	}

	if r := runCLI(t, env("right-password"), nil, "token"); r.code != 0 || r.out != "stored-access-token-0123456789\n" {
		t.Fatalf("token with the right password: %+v", r)
	}
	r = runCLI(t, env("wrong-password"), nil, "token")
	if r.code != exitError || !strings.Contains(r.err, "store backend file") || !strings.Contains(r.err, "wrong password") ||
		strings.Contains(r.err, "not logged in") {
		t.Fatalf("token with the wrong password: %+v; want exit 1 naming the file backend and the wrong password", r)
	}
	r = runCLI(t, env("wrong-password"), nil, "status", "--json")
	st = statusJSON{}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status: %v: %+v", err, r)
	}
	for _, s := range st.Sources {
		if s.Name == "oauth" && (!s.Configured || !strings.Contains(s.LastError+s.StoreError, "wrong password") || s.Identity == "") {
			t.Fatalf("status of oauth with the wrong password: %+v", s)
		}
	}
	if r.code != exitError || st.Error == "" {
		t.Fatalf("status exit %d error %q; want 1 and the store error", r.code, st.Error)
	}
	r = runCLI(t, env("wrong-password"), nil, "login", "--no-browser")
	if r.code != exitError || !strings.Contains(r.err, "--force") {
		t.Fatalf("login over an unreadable record: %+v; want a refusal naming --force", r)
	}
	if got, err := store.Get(context.Background(), key); err != nil || string(got) != string(rec) {
		t.Fatalf("the record was changed: %v", err)
	}
}
