// Command seed stores an OAuth login record for bench/startup.sh, as
// credchain login would after a successful login: a bearer access token
// valid for a day plus a refresh token, under the "oauth" source's key.
//
// It reads the same settings as credchain (CREDCHAIN_* variables, the
// settings file, $CREDCHAIN_FILE_PASSWORD for the file store), so the record
// lands where credchain token looks for it. The token itself is read from
// standard input, never from the command line.
//
//	printf %s "$TOKEN" | CREDCHAIN_STORE_BACKEND=plaintext go run ./bench/seed
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

func main() {
	if err := seed(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func seed(ctx context.Context) error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the access token from stdin: %w", err)
	}
	token := strings.TrimSpace(line)
	if token == "" {
		return errors.New("no access token on stdin")
	}
	s, err := config.Load(config.LoadOptions{Sources: all.Sources()})
	if err != nil {
		return err
	}
	cfg, err := s.Build(ctx)
	if err != nil {
		return err
	}
	// Through the resolver, so the record goes under the key of the
	// configured identity (issuer, client id, scopes), as a login's would.
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	now := time.Now()
	cred := &resolver.Credential{
		Source: oauthpkce.Name, Kind: resolver.KindBearer,
		Token: resolver.NewSecret(token), Refresh: resolver.NewSecret("bench-refresh-token"),
		Expiry: now.Add(24 * time.Hour), IssuedAt: now,
	}
	if err := r.Store(ctx, cred); err != nil {
		return fmt.Errorf("store the login in the %s store: %w", cfg.Store.Backend(), err)
	}
	fmt.Fprintf(os.Stderr, "seed: stored an OAuth login in the %s store\n", cfg.Store.Backend())
	return nil
}
