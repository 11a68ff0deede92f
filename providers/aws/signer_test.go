package aws_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

func awsCred(region string) *resolver.Credential {
	return &resolver.Credential{Kind: resolver.KindAWS, Source: aws.Name, AWS: &resolver.AWSKeys{
		AccessKeyID: "ASIAEXAMPLEEXAMPLE01", SecretAccessKey: resolver.NewSecret("secret-key-value-0123456789"),
		SessionToken: resolver.NewSecret("session-token-value"), Region: region,
	}}
}

// TestSignerResigns: every call signs anew (a retry never reuses a
// signature), a body without GetBody is buffered so it can still be sent
// and replayed, and the session token and region are applied.
func TestSignerResigns(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 27, 4, 0, time.UTC)
	s := aws.NewSigner(aws.WithSigningClock(func() time.Time { return at }))
	req, err := http.NewRequest(http.MethodPost, "https://bedrock-runtime.eu-west-3.amazonaws.com/model/m/invoke", io.NopCloser(strings.NewReader(modelBody)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(context.Background(), req, awsCred("eu-west-3")); err != nil {
		t.Fatal(err)
	}
	first := req.Header.Get("Authorization")
	if !strings.Contains(first, "Credential=ASIAEXAMPLEEXAMPLE01/20261127/eu-west-3/bedrock/aws4_request") ||
		!strings.Contains(first, "x-amz-security-token") || req.Header.Get("X-Amz-Security-Token") != "session-token-value" ||
		req.Header.Get("X-Amz-Date") != "20261127T032704Z" {
		t.Fatalf("headers %v", req.Header)
	}
	if req.GetBody == nil || req.ContentLength != int64(len(modelBody)) {
		t.Fatalf("the body was not made replayable (GetBody %v, length %d)", req.GetBody != nil, req.ContentLength)
	}
	for range 2 {
		b, _ := req.GetBody()
		if got, _ := io.ReadAll(b); string(got) != modelBody {
			t.Fatalf("replayed body %q", got)
		}
	}
	at = at.Add(time.Second)
	if err := s.Sign(context.Background(), req, awsCred("eu-west-3")); err != nil {
		t.Fatal(err)
	}
	if second := req.Header.Get("Authorization"); second == first || len(req.Header.Values("Authorization")) != 1 {
		t.Fatalf("re-signing reused or duplicated the signature: %q", req.Header.Values("Authorization"))
	}
	if got, _ := io.ReadAll(req.Body); string(got) != modelBody {
		t.Fatalf("body after signing = %q", got)
	}
}

func TestSignerRefusesWhatItCannotSign(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://bedrock.us-east-1.amazonaws.com/", nil)
	for _, tc := range []struct {
		cred *resolver.Credential
		want string
	}{
		{&resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("x")}, "no AWS keys"},
		{awsCred(""), "aws.region"},
	} {
		err := aws.NewSigner().Sign(context.Background(), req, tc.cred)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret-key-value") {
			t.Errorf("Sign(%v) = %v, want an error containing %q", tc.cred, err, tc.want)
		}
	}
}
