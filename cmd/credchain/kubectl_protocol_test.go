//go:build linux && integration

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/credchain/credchain/internal/itest"
	"github.com/credchain/credchain/internal/testenv"
)

// kubeAPI is a minimal Kubernetes API server over TLS: enough discovery for
// kubectl get pods, every request's bearer token recorded, and any token
// the helper did not print refused.
type kubeAPI struct {
	*httptest.Server
	mu      sync.Mutex
	bearers []string
	refuse  string // a token answered with 401
}

func newKubeAPI(t *testing.T, refuse string) *kubeAPI {
	t.Helper()
	k := &kubeAPI{refuse: refuse}
	docs := map[string]string{
		"/version": `{"major":"1","minor":"32","gitVersion":"v1.32.0","platform":"linux/amd64"}`,
		"/api":     `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`,
		"/apis":    `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`,
		"/api/v1": `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod",` +
			`"verbs":["get","list"],"shortNames":["po"]}]}`,
		"/api/v1/namespaces/default/pods": `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`,
	}
	k.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		k.mu.Lock()
		k.bearers = append(k.bearers, tok)
		k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || !strings.HasPrefix(tok, "kube-token-") || tok == k.refuse {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`))
			return
		}
		doc, found := docs[r.URL.Path]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
			return
		}
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *kubeAPI) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.bearers...)
}

// TestKubectlExecPlugin: kubectl runs credchain token --format
// exec-credential as its exec plugin against a TLS API server that checks
// the bearer. The token comes from an API-key helper that prints a new key
// on every run. With a long TTL, kubectl runs the plugin once for all its
// requests; with a TTL that is over at once, the expirationTimestamp is
// already past and kubectl runs the plugin again before each request.
func TestKubectlExecPlugin(t *testing.T) {
	testenv.Hermetic(t)
	if !inNetns(t, nil) {
		return
	}
	kubectl := itest.RequireCommand(t, "kubectl", "kubectl comes with the machine image (.ci/setup.d/50-clients.sh checks it)")
	bin := credchainBin(t)
	tests := []struct {
		name, apiVersion, ttlMS, refuse string
		wantRuns                        func(runs, requests int) bool
	}{
		{"v1, one hour", "client.authentication.k8s.io/v1", "3600000", "", func(runs, requests int) bool { return runs == 1 && requests >= 2 }},
		{"v1beta1, one hour", "client.authentication.k8s.io/v1beta1", "3600000", "", func(runs, requests int) bool { return runs == 1 && requests >= 2 }},
		{"v1, expired at once", "client.authentication.k8s.io/v1", "1", "", func(runs, requests int) bool { return runs >= 2 && runs >= requests }},
		// A 401 makes kubectl run the plugin again, and credchain's
		// helper gives a new key.
		{"v1, first token refused", "client.authentication.k8s.io/v1", "3600000", "kube-token-1", func(runs, requests int) bool { return runs == 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newKubeAPI(t, tc.refuse)
			dir := t.TempDir()
			rec := newArgvRecorder(t, bin)
			counter := filepath.Join(dir, "runs")
			helper := writeFile(t, dir, "helper.sh", "#!/bin/sh\nn=$(cat '"+counter+"' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '"+counter+"'\necho kube-token-$n\n", 0o755)
			ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}))
			interactive := ""
			if strings.HasSuffix(tc.apiVersion, "/v1") {
				interactive = "      interactiveMode: Never\n"
			}
			kubeconfig := writeFile(t, dir, "kubeconfig", `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: `+api.URL+`
    certificate-authority-data: `+ca+`
users:
- name: u
  user:
    exec:
      apiVersion: `+tc.apiVersion+`
      command: `+rec.path+`
      args: ["token", "--format", "exec-credential"]
`+interactive+`      provideClusterInfo: true
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: default}
current-context: ctx
`, 0o600)
			cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "--request-timeout=30s", "get", "pods")
			cmd.Env = append(cliEnv(t), "CREDCHAIN_API_KEY_HELPER="+helper, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS="+tc.ttlMS)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("kubectl get pods: %v\nstdout %s\nstderr %s", err, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), "No resources found") {
				t.Fatalf("kubectl get pods printed %q / %q", out.String(), errb.String())
			}
			b, err := os.ReadFile(counter)
			if err != nil {
				t.Fatal(err)
			}
			runs, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			seen := api.seen()
			if tc.refuse != "" && (seen[0] != tc.refuse || slices.Index(seen[1:], tc.refuse) >= 0) {
				t.Errorf("the server saw %q; want the refused token once, first", seen)
			}
			for i, tok := range seen {
				if !strings.HasPrefix(tok, "kube-token-") {
					t.Errorf("request %d carried %q, not a token the helper printed", i, tok)
				}
			}
			if seen[len(seen)-1] != "kube-token-"+strings.TrimSpace(string(b)) {
				t.Errorf("the last request carried %q, want the helper's latest key kube-token-%s", seen[len(seen)-1], strings.TrimSpace(string(b)))
			}
			t.Logf("the plugin ran %d times for %d requests", runs, len(seen))
			if !tc.wantRuns(runs, len(seen)) {
				t.Errorf("the plugin ran %d times for %d requests", runs, len(seen))
			}
			rec.checkNoSecret(t, "kube-token-")
		})
	}
}
