// Package embed is what every config-based program under bench/deps does:
// load the settings for the sources it is given, build the chain, resolve
// once and wrap an http.Client. It imports only config and resolver, so a
// program links the sources (and SDKs) it passes, and no others.
package embed

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Main resolves a credential through the given sources and prints its
// source and masked value; it exits 1 on an error.
func Main(sources ...source.Descriptor) {
	if err := run(context.Background(), sources); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sources []source.Descriptor) error {
	s, err := config.Load(config.LoadOptions{Sources: sources})
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
