// Command all is an embedder that links every source (package source/all):
// the AWS and Google SDKs included, as the credchain command does.
// bench/deps/measure.sh compares what it links.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	s, err := config.Load(config.LoadOptions{Sources: all.Sources()})
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
