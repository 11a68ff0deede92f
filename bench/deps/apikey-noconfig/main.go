// Command apikey-noconfig builds the chain of bench/deps/apikey by hand,
// without package config (so without viper and without a settings file):
// the auth-token and api-key sources from the environment, no store.
// bench/deps/measure.sh compares what it links.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/resolver"
)

func main() {
	ctx := context.Background()
	r, err := resolver.New(ctx, resolver.Config{Sources: []resolver.Source{
		apikey.NewEnv(apikey.AuthTokenName, "ANTHROPIC_AUTH_TOKEN", resolver.KindBearer, os.Getenv),
		apikey.NewEnv(apikey.APIKeyName, "ANTHROPIC_API_KEY", resolver.KindAPIKey, os.Getenv),
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	cred, err := r.Resolve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	client := &http.Client{Transport: r.Transport(nil)}
	_ = client
	fmt.Println(cred.Source, cred.Masked())
}
