// Command xoauth2 is the yardstick of bench/deps/measure.sh: a program that
// uses golang.org/x/oauth2 alone to send a bearer token it refreshes with a
// refresh token, as an embedder without credchain would.
package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/oauth2"
)

func main() {
	ctx := context.Background()
	conf := &oauth2.Config{
		ClientID: "example",
		Endpoint: oauth2.Endpoint{AuthURL: "https://login.example.invalid/authorize", TokenURL: "https://login.example.invalid/token"},
		Scopes:   []string{"openid", "offline_access"},
	}
	tok := &oauth2.Token{AccessToken: os.Getenv("ACCESS_TOKEN"), RefreshToken: os.Getenv("REFRESH_TOKEN")}
	ts := conf.TokenSource(ctx, tok)
	client := oauth2.NewClient(ctx, ts)
	_ = client
	t, err := ts.Token()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(t.Type())
}
