package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credchain/credchain/resolver"
)

// resolveToken resolves the credential a credential-helper protocol hands
// out as a password, which must be a token (not AWS keys). The caller closes
// the resolver, which it needs again for erase.
func resolveToken(ctx context.Context, a *App, cmd *cobra.Command, protocol, use string) (*resolver.Resolver, *resolver.Credential, error) {
	r, _, err := a.Resolver(ctx, cmd)
	if err != nil {
		return nil, nil, err
	}
	cred, err := r.Resolve(ctx)
	if err == nil && cred.Token.IsZero() {
		err = fmt.Errorf("%s: source %s gives a credential of kind %s, which has no token to use as %s", protocol, cred.Source, cred.Kind, use)
	}
	if err != nil {
		_ = r.Close()
		return nil, nil, err
	}
	return r, cred, nil
}
