// Command oauth-noconfig builds the chain of bench/deps/oauth by hand,
// without package config (so without viper): source oauth with the shared
// store (cache.Open, the OS keychain). bench/deps/measure.sh compares what
// it links.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	src, err := oauthpkce.New(oauthpkce.Config{Issuer: os.Getenv("OAUTH_ISSUER"), ClientID: os.Getenv("OAUTH_CLIENT_ID")})
	if err != nil {
		return err
	}
	store, err := cache.Open(ctx, cache.Options{})
	if err != nil {
		return err
	}
	r, err := resolver.New(ctx, resolver.Config{Sources: []resolver.Source{src}, Store: store})
	if err != nil {
		return err
	}
	defer r.Close()
	cred, err := r.Resolve(ctx)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: r.Transport(nil)}
	_ = client
	fmt.Println(cred.Source, cred.Masked())
	return nil
}
