// Command oauth is the smallest embedder that uses a stored OAuth login (credchain
// login with PKCE, refreshed with rotating refresh tokens): it hands config
// only source oauth, so it links no cloud SDK.
// bench/deps/measure.sh compares what it links.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	s, err := config.Load(config.LoadOptions{Sources: []source.Descriptor{
		oauthpkce.Descriptor(),
	}})
	if err != nil {
		return err
	}
	cfg, err := s.Build(ctx)
	if err != nil {
		return err
	}
	r, err := resolver.New(ctx, cfg)
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
