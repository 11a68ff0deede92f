package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/resolver"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/formats/*.golden")

// goldenCredentials are the credentials every format is tried with.
func goldenCredentials() map[string]*resolver.Credential {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return map[string]*resolver.Credential{
		"api_key": {Kind: resolver.KindAPIKey, Token: resolver.NewSecret("sk-ant-api03-golden-0123456789abcdef"), Source: "api-key"},
		"api_key_ttl": {Kind: resolver.KindAPIKey, Token: resolver.NewSecret("helper-key-it's-\"quoted\"-$HOME"), Source: "api-key-helper",
			RefreshAt: exp},
		"bearer": {Kind: resolver.KindBearer, Token: resolver.NewSecret("oauth-access-0123456789"), Source: "oauth", Expiry: exp},
		"google": {Kind: resolver.KindGoogle, Token: resolver.NewSecret("ya29.golden-token"), Source: "vertex", Expiry: exp},
		"aws": {Kind: resolver.KindAWS, Source: "bedrock", Expiry: exp, AWS: &resolver.AWSKeys{
			AccessKeyID: "ASIAGOLDEN0123456789", SecretAccessKey: resolver.NewSecret("golden/secret+key"),
			SessionToken: resolver.NewSecret("golden-session-token"), Region: "eu-west-3"}},
		"aws_static": {Kind: resolver.KindAWS, Source: "bedrock", AWS: &resolver.AWSKeys{
			AccessKeyID: "AKIAGOLDEN0123456789", SecretAccessKey: resolver.NewSecret("static-secret")}},
	}
}

// TestFormatGolden writes every credential in every new format and
// compares with testdata/formats/<format>-<credential>[-<variant>].golden:
// the output, or "error: <message>" for a combination the format refuses.
func TestFormatGolden(t *testing.T) {
	formats := tokenFormats()
	variants := map[string]map[string]string{
		"exec-credential": {
			"":        "",
			"v1":      `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}`,
			"v1beta1": `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}`,
			"alpha":   `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}`,
		},
	}
	for _, name := range []string{"credential-process", "exec-credential", "header", "env"} {
		f, ok := findFormat(formats, name)
		if !ok {
			t.Fatalf("format %s is not registered", name)
		}
		vs := variants[name]
		if vs == nil {
			vs = map[string]string{"": ""}
		}
		for credName, cred := range goldenCredentials() {
			for variant, info := range vs {
				file := name + "-" + credName
				if variant != "" {
					file += "-" + variant
				}
				t.Run(file, func(t *testing.T) {
					var buf bytes.Buffer
					err := f.write(&buf, cred, formatContext{Getenv: func(k string) string {
						if k == "KUBERNETES_EXEC_INFO" {
							return info
						}
						return ""
					}})
					got := buf.String()
					if err != nil {
						if buf.Len() != 0 {
							t.Errorf("format %s wrote %q and failed", name, got)
						}
						got = "error: " + err.Error() + "\n"
						for _, s := range secretsOf(cred) {
							if strings.Contains(got, s) {
								t.Errorf("the error holds a secret: %s", got)
							}
						}
					}
					golden := filepath.Join("testdata", "formats", file+".golden")
					if *updateGolden {
						if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					want, err := os.ReadFile(golden)
					if err != nil {
						t.Fatalf("%v (run go test -run TestFormatGolden -update-golden to write it)", err)
					}
					if got != string(want) {
						t.Errorf("format %s of %s:\ngot:\n%s\nwant (%s):\n%s", name, credName, got, golden, want)
					}
				})
			}
		}
	}
}

func secretsOf(c *resolver.Credential) []string {
	var s []string
	for _, v := range []resolver.Secret{c.Token, c.Refresh} {
		if !v.IsZero() {
			s = append(s, v.Reveal())
		}
	}
	if c.AWS != nil {
		for _, v := range []resolver.Secret{c.AWS.SecretAccessKey, c.AWS.SessionToken} {
			if !v.IsZero() {
				s = append(s, v.Reveal())
			}
		}
	}
	return s
}

// TestFormatEnvShellRoundTrip: what --format env prints, evaluated by a
// real shell, gives back the exact secret, whatever characters it has.
func TestFormatEnvShellRoundTrip(t *testing.T) {
	f, _ := findFormat(tokenFormats(), "env")
	for _, secret := range []string{"plain-0123", `it's "q" $HOME \n`, "'", "''", "a'b'c", "`id`", "$(id)", "tab\there", "ünïcødé"} {
		var buf bytes.Buffer
		cred := &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret(secret), Source: "t"}
		if err := f.write(&buf, cred, formatContext{Getenv: func(string) string { return "" }}); err != nil {
			t.Fatal(err)
		}
		// The script comes on stdin, never in argv.
		cmd := exec.Command("sh")
		cmd.Stdin = strings.NewReader(buf.String() + `printf '%s' "$ANTHROPIC_API_KEY"` + "\n")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil || string(out) != secret {
			t.Errorf("sh evaluated %q to %q (%v), want %q", buf.String(), out, err, secret)
		}
	}
}
