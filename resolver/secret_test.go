package resolver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/resolver"
)

const leak = "sk-ant-SECRETSECRETSECRET-1234"

func TestCredentialNeverPrintsSecrets(t *testing.T) {
	c := &resolver.Credential{
		Kind: resolver.KindAWS, Source: "bedrock", Token: resolver.NewSecret(leak), Refresh: resolver.NewSecret("rt-" + leak),
		AWS:    &resolver.AWSKeys{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: resolver.NewSecret(leak), SessionToken: resolver.NewSecret(leak)},
		Expiry: time.Now(),
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("resolved", "cred", c, "secret", c.Token)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("resolved", "cred", c, "secret", c.Token)
	js, _ := json.Marshal(c)
	jsSecret, _ := json.Marshal(struct{ S resolver.Secret }{c.Token})
	forms := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c), "%q": fmt.Sprintf("%q", c), "%x": fmt.Sprintf("%x", c),
		"value %+v": fmt.Sprintf("%+v", *c), "value %#v": fmt.Sprintf("%#v", *c),
		"secret %v": fmt.Sprintf("%v", c.Token), "secret %#v": fmt.Sprintf("%#v", c.Token), "secret %x": fmt.Sprintf("%x", c.Token),
		"aws %+v": fmt.Sprintf("%+v", *c.AWS), "json": string(js), "json secret": string(jsSecret),
		"slog": logBuf.String(), "error": fmt.Errorf("wrapping %v: %w", c, errors.New("x")).Error(),
	}
	for name, out := range forms {
		if strings.Contains(out, "SECRETSECRET") {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	if got := c.Token.Mask(); got != "****1234" {
		t.Errorf("mask = %q, want ****1234", got)
	}
	if got := resolver.NewSecret("short").Mask(); got != "****" {
		t.Errorf("short mask = %q", got)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := &resolver.Credential{Kind: resolver.KindAWS, Source: "bedrock", Refresh: resolver.NewSecret("r"),
		AWS:    &resolver.AWSKeys{AccessKeyID: "AKIA", SecretAccessKey: resolver.NewSecret("s"), SessionToken: resolver.NewSecret("t"), Region: "us-east-1"},
		Expiry: exp, Meta: map[string]string{"arn": "arn:x"}}
	data, err := resolver.EncodeRecord(in, exp)
	if err != nil {
		t.Fatal(err)
	}
	out, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if !out.SameSecret(in) || !out.Expiry.Equal(exp) || out.AWS.Region != "us-east-1" || out.Meta["arn"] != "arn:x" {
		t.Fatalf("round trip lost data: %v", out)
	}
	for _, bad := range []string{`{`, `{"version":99,"kind":"bearer"}`, `{"version":1}`} {
		if _, err := resolver.DecodeRecord([]byte(bad)); err == nil {
			t.Errorf("DecodeRecord(%s) accepted", bad)
		}
	}
}

// Each verb prints the mask in the form the verb promises: %#v a Go
// expression, %q a quoted string, every other verb the bare mask.
func TestSecretFormatsTheMaskPerVerb(t *testing.T) {
	s := resolver.NewSecret(leak)
	for _, tc := range []struct{ format, want string }{
		{"%v", "****1234"},
		{"%s", "****1234"},
		{"%#v", `resolver.Secret("****1234")`},
		{"%q", `"****1234"`},
		{"%x", "****1234"},
	} {
		if got := fmt.Sprintf(tc.format, s); got != tc.want {
			t.Errorf("Sprintf(%q) = %s, want %s", tc.format, got, tc.want)
		}
	}
}

// An AWS credential is shown by its access key ID and the mask of its
// secret access key (it has no token); a bearer credential by the mask of
// its token.
func TestCredentialShowsTheRightParts(t *testing.T) {
	aws := &resolver.Credential{Kind: resolver.KindAWS, Source: "bedrock",
		AWS: &resolver.AWSKeys{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: resolver.NewSecret("aws-secret-access-key-WXYZ")}}
	bearer := &resolver.Credential{Kind: resolver.KindBearer, Source: "oauth", Token: resolver.NewSecret("bearer-token-long-enough-ABCD")}
	if got := aws.Masked(); got != "****WXYZ" {
		t.Errorf("AWS Masked() = %q, want the secret access key's mask", got)
	}
	if got := bearer.Masked(); got != "****ABCD" {
		t.Errorf("bearer Masked() = %q, want the token's mask", got)
	}
	if s := aws.String(); !strings.Contains(s, "access_key_id=AKIAEXAMPLE") {
		t.Errorf("AWS String() = %q, want the access key ID", s)
	}
	if s := bearer.String(); strings.Contains(s, "access_key_id") {
		t.Errorf("bearer String() = %q names an access key", s)
	}
	js, err := json.Marshal(aws)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		AccessKey string `json:"access_key_id"`
		Secret    string `json:"secret"`
	}
	if err := json.Unmarshal(js, &v); err != nil || v.AccessKey != "AKIAEXAMPLE" || v.Secret != "****WXYZ" {
		t.Errorf("AWS JSON = %s (%v), want the access key ID and the secret's mask", js, err)
	}
}
