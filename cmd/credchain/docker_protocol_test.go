//go:build linux && integration

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/credchain/credchain/internal/testenv"
)

// TestDockerCredentialProtocol drives credchain docker-credential with the
// protocol's vectors (docker-credential-helpers' client: the server URL on
// stdin for get and erase, a JSON document for store, nothing for list),
// as the Docker CLI sends them, through a docker-credential-credchain
// wrapper as the CLI would find it on PATH.
func TestDockerCredentialProtocol(t *testing.T) {
	testenv.Hermetic(t)
	bin := credchainBin(t)
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	// An API-key helper whose key changes on every run: each credchain
	// process runs it once.
	helper := writeFile(t, dir, "helper.sh", "#!/bin/sh\nn=$(cat '"+counter+"' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '"+counter+"'\necho docker-secret-$n\n", 0o755)
	rec := newArgvRecorder(t, bin)
	wrapper := writeFile(t, dir, "docker-credential-credchain", "#!/bin/sh\nexec '"+rec.path+"' docker-credential \"$@\"\n", 0o755)
	env := cliEnv(t, "CREDCHAIN_API_KEY_HELPER="+helper,
		"CREDCHAIN_DOCKER_SERVERS=registry.example.test, https://index.docker.io/v1/ ,127.0.0.1:5000")

	type vector struct {
		name, op, stdin string
		code            int
		out             string // exact stdout, or a JSON document compared as such
		json            bool
	}
	vectors := []vector{
		{"get configured host", "get", "registry.example.test\n", 0, `{"ServerURL":"registry.example.test","Username":"credchain","Secret":"docker-secret-1"}`, true},
		{"get with scheme and slash", "get", "https://registry.example.test/", 0, `{"ServerURL":"https://registry.example.test/","Username":"credchain","Secret":"docker-secret-2"}`, true},
		{"get docker hub", "get", "https://index.docker.io/v1/", 0, `{"ServerURL":"https://index.docker.io/v1/","Username":"credchain","Secret":"docker-secret-3"}`, true},
		{"get host and port", "get", "127.0.0.1:5000", 0, `{"ServerURL":"127.0.0.1:5000","Username":"credchain","Secret":"docker-secret-4"}`, true},
		{"get unknown server", "get", "other.example.test\n", 1, "credentials not found in native keychain\n", false},
		{"get another port", "get", "127.0.0.1:5001", 1, "credentials not found in native keychain\n", false},
		{"get empty", "get", "\n", 1, "no credentials server URL\n", false},
		{"list", "list", "", 0, `{"registry.example.test":"credchain","https://index.docker.io/v1/":"credchain","127.0.0.1:5000":"credchain"}`, true},
		{"store is accepted and ignored", "store", `{"ServerURL":"registry.example.test","Username":"u","Secret":"stored-secret"}`, 0, "", false},
		{"store without server", "store", `{"ServerURL":"","Username":"u","Secret":"s"}`, 1, "no credentials server URL\n", false},
		{"erase configured", "erase", "registry.example.test\n", 0, "", false},
		{"erase unknown", "erase", "other.example.test\n", 1, "credentials not found in native keychain\n", false},
	}
	for _, v := range vectors {
		res := runStdin(t, wrapper, env, v.stdin, v.op)
		if res.code != v.code {
			t.Errorf("%s: exit %d, want %d (stdout %q, stderr %q)", v.name, res.code, v.code, res.out, res.err)
			continue
		}
		if v.json {
			var got, want any
			if err := json.Unmarshal([]byte(res.out), &got); err != nil {
				t.Errorf("%s: stdout %q is not JSON: %v", v.name, res.out, err)
				continue
			}
			_ = json.Unmarshal([]byte(v.out), &want)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if string(gb) != string(wb) {
				t.Errorf("%s: stdout %s, want %s", v.name, res.out, v.out)
			}
		} else if res.out != v.out {
			t.Errorf("%s: stdout %q, want %q", v.name, res.out, v.out)
		}
	}
	// The unknown server, list and store never ran the helper: 4 gets and
	// one erase (which resolves, then refreshes the refused key).
	if b, _ := os.ReadFile(counter); strings.TrimSpace(string(b)) != "6" {
		t.Errorf("the helper ran %s times, want 6 (4 gets, erase: resolve + refresh)", strings.TrimSpace(string(b)))
	}
	rec.checkNoSecret(t, "docker-secret", "stored-secret")
}

// TestDockerCredentialHelperClient: the client package the Docker CLI uses
// to run credential helpers (docker-credential-helpers/client) talks to
// docker-credential-credchain: get, the not-found error it recognises,
// list, store and erase.
func TestDockerCredentialHelperClient(t *testing.T) {
	testenv.Hermetic(t)
	bin := credchainBin(t)
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	helper := writeFile(t, dir, "helper.sh", "#!/bin/sh\nn=$(cat '"+counter+"' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '"+counter+"'\necho docker-client-secret-$n\n", 0o755)
	program := writeFile(t, dir, "docker-credential-credchain", "#!/bin/sh\nexec '"+bin+"' docker-credential \"$@\"\n", 0o755)
	for k, v := range map[string]string{
		"CREDCHAIN_STORE_BACKEND": "memory", "CREDCHAIN_API_KEY_HELPER": helper,
		"CREDCHAIN_DOCKER_SERVERS": "registry.example.test,https://index.docker.io/v1/",
	} {
		t.Setenv(k, v)
	}
	p := client.NewShellProgramFunc(program)

	c, err := client.Get(p, "https://index.docker.io/v1/")
	if err != nil || c.ServerURL != "https://index.docker.io/v1/" || c.Username != "credchain" || c.Secret != "docker-client-secret-1" {
		t.Fatalf("client.Get = %+v, %v", c, err)
	}
	if _, err := client.Get(p, "elsewhere.example.test"); !credentials.IsErrCredentialsNotFound(err) {
		t.Fatalf("client.Get of an unconfigured server: %v, want the protocol's not-found error", err)
	}
	list, err := client.List(p)
	if err != nil || len(list) != 2 || list["registry.example.test"] != "credchain" || list["https://index.docker.io/v1/"] != "credchain" {
		t.Fatalf("client.List = %v, %v", list, err)
	}
	if err := client.Store(p, &credentials.Credentials{ServerURL: "registry.example.test", Username: "u", Secret: "s"}); err != nil {
		t.Fatalf("client.Store: %v", err)
	}
	if err := client.Erase(p, "registry.example.test"); err != nil {
		t.Fatalf("client.Erase: %v", err)
	}
	c, err = client.Get(p, "registry.example.test")
	if err != nil || c.Secret != "docker-client-secret-4" {
		t.Fatalf("client.Get after erase = %+v, %v; want the helper's 4th key (get, erase: resolve + refresh, get)", c, err)
	}
}
