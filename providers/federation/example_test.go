package federation_test

import (
	"context"
	"net/http"

	"github.com/credchain/credchain/providers/federation"
	"github.com/credchain/credchain/resolver"
)

// A Kubernetes pod or CI job: the platform's OIDC token (the file named by
// ANTHROPIC_IDENTITY_TOKEN_FILE, re-read on every exchange) is exchanged for
// an Anthropic token, exchanged again before it expires and after a 401.
func ExampleNew() {
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources: []resolver.Source{federation.New(federation.Options{})},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	client := &http.Client{Transport: r.Transport(nil)}
	_ = client // POST https://api.anthropic.com/v1/messages
}

// The identity token from a callback instead of a file, e.g. a cloud
// metadata server asked for audience https://api.anthropic.com.
func ExampleOptions_identityToken() {
	src := federation.New(federation.Options{
		IdentityToken: func(ctx context.Context) (string, error) {
			return "header.payload.signature", nil // fetch a fresh JWT here
		},
	})
	_ = src
}
