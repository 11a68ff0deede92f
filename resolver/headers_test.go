package resolver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// TestTransportCredentialHeaders: a credential's extra headers go out with
// it (anthropic-beta added to the caller's list once, others set), and a
// credential of kind none sends only those.
func TestTransportCredentialHeaders(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		kind                 resolver.Kind
		callerBeta, wantBeta string
		wantAuth             string
	}{
		{"bearer, no caller beta", resolver.KindBearer, "", "oauth-2025-04-20", "Bearer tok"},
		{"bearer, caller betas kept", resolver.KindBearer, "a-1, oauth-2025-04-20", "a-1, oauth-2025-04-20", "Bearer tok"},
		{"bearer, beta appended", resolver.KindBearer, "a-1", "a-1,oauth-2025-04-20", "Bearer tok"},
		{"none", resolver.KindNone, "", "oauth-2025-04-20", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan http.Header, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
			defer srv.Close()
			src := &fakeSource{name: "s", fetch: func(context.Context, *resolver.Credential, int) (*resolver.Credential, error) {
				c := &resolver.Credential{Kind: tc.kind, Headers: map[string]string{"anthropic-beta": "oauth-2025-04-20", "anthropic-workspace-id": "wrkspc_1"}}
				if tc.kind != resolver.KindNone {
					c.Token = resolver.NewSecret("tok")
				}
				return c, nil
			}}
			r := newResolver(t, testenv.NewFakeClock(t0), nil, nil, src)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			if tc.callerBeta != "" {
				req.Header.Set("anthropic-beta", tc.callerBeta)
			}
			resp, err := (&http.Client{Transport: r.Transport(nil)}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := <-got
			if h.Get("anthropic-beta") != tc.wantBeta || h.Get("Authorization") != tc.wantAuth || h.Get("anthropic-workspace-id") != "wrkspc_1" || h.Get("X-Api-Key") != "" {
				t.Fatalf("headers %v", h)
			}
			if tc.callerBeta != "" && req.Header.Get("anthropic-beta") != tc.callerBeta {
				t.Fatal("the caller's request was modified")
			}
		})
	}
}

// TestRecordKeepsHeadersAndService: the stored form keeps what signing
// needs.
func TestRecordKeepsHeadersAndService(t *testing.T) {
	in := &resolver.Credential{Kind: resolver.KindAWS, Source: "anthropic-aws", Headers: map[string]string{"anthropic-workspace-id": "wrkspc_1"},
		AWS: &resolver.AWSKeys{AccessKeyID: "AKIA", SecretAccessKey: resolver.NewSecret("s"), Region: "us-west-2", Service: "aws-external-anthropic"}}
	data, err := resolver.EncodeRecord(in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, err := resolver.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if out.AWS.Service != "aws-external-anthropic" || out.Headers["anthropic-workspace-id"] != "wrkspc_1" {
		t.Fatalf("decoded %v service %q headers %v", out, out.AWS.Service, out.Headers)
	}
}
