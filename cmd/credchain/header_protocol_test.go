//go:build linux && integration

package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"testing"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// TestHeaderFormatWithCurl: credchain token --format header piped into
// curl -H @- sends the credential's header; the secret is on no command
// line (neither credchain's nor curl's).
func TestHeaderFormatWithCurl(t *testing.T) {
	testenv.Hermetic(t)
	if !inNetns(t, nil) {
		return
	}
	curl := itest.RequireCommand(t, "curl", "apt-get install curl")
	bin := credchainBin(t)
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got["x-api-key"], got["authorization"] = r.Header.Get("X-Api-Key"), r.Header.Get("Authorization")
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	const apiKey, bearer = "sk-ant-api03-curl-0123456789abcdef", "oauth-curl-token-0123456789"
	for _, tc := range []struct {
		name, variable, header, want string
	}{
		{"api key", "ANTHROPIC_API_KEY=" + apiKey, "x-api-key", apiKey},
		{"bearer", "ANTHROPIC_AUTH_TOKEN=" + bearer, "authorization", "Bearer " + bearer},
	} {
		rec := newArgvRecorder(t, bin)
		// curl runs through a recorder too: what is checked is the argv the
		// live curl process received, not a command line the test built.
		curlRec := newArgvRecorder(t, curl)
		cmd := exec.Command("sh", "-c", `"$0" token --format header | "$1" -sSf -H @- "$2"`, rec.path, curlRec.path, srv.URL)
		cmd.Env = cliEnv(t, tc.variable)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: credchain token --format header | curl: %v\n%s", tc.name, err, out)
		}
		mu.Lock()
		h := got[tc.header]
		mu.Unlock()
		if h != tc.want {
			t.Errorf("%s: the server got %s %q, want %q", tc.name, tc.header, h, tc.want)
		}
		rec.checkNoSecret(t, apiKey, bearer)
		curlRec.checkNoSecret(t, apiKey, bearer)
	}
}
