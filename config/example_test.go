package config_test

import (
	"context"
	"fmt"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
	"github.com/credchain/credchain/source/all"
)

// Load settings (here from an injected environment) for the sources the
// program links — here the two environment sources, so no OAuth code and no
// cloud SDK is linked — build the chain, and resolve the credential to send.
func ExampleLoad() {
	env := map[string]string{
		"CREDCHAIN_STORE_BACKEND": "memory",
		"ANTHROPIC_API_KEY":       "sk-example-key-000000000000wxyz",
	}
	s, err := config.Load(config.LoadOptions{
		Getenv:  func(k string) string { return env[k] },
		Sources: []source.Descriptor{apikey.APIKeyDescriptor(), apikey.AuthTokenDescriptor()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	cfg, err := s.Build(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	cred, err := r.Resolve(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Chain())
	fmt.Println(cred.Source, cred.Kind, cred.Masked())
	// Output:
	// [auth-token api-key]
	// api-key api_key ****wxyz
}

// A bad setting names where it came from, the key, and what is allowed.
func ExampleLoad_error() {
	env := map[string]string{"CREDCHAIN_CHAIN": "api-key,api-keys"}
	_, err := config.Load(config.LoadOptions{Getenv: func(k string) string { return env[k] }, Sources: all.Sources()})
	fmt.Println(err)
	// Output:
	// $CREDCHAIN_CHAIN: chain[1]: unknown source "api-keys"; allowed: gateway, bedrock, foundry, anthropic-aws, mantle, vertex, auth-token, api-key, api-key-fd, api-key-helper, oauth-token, oauth-token-fd, federation, oauth
}
