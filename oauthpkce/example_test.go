package oauthpkce_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

func ExampleSplitScopes() {
	// The oauth.scopes setting may use spaces, commas or both.
	fmt.Println(oauthpkce.SplitScopes("openid, email offline_access"))
	// Output: [openid email offline_access]
}

func ExampleNew() {
	src, err := oauthpkce.New(oauthpkce.Config{
		Issuer:   "https://idp.example.com",
		ClientID: "credchain-cli",
		Scopes:   []string{"openid", "offline_access"},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Nothing is fetched yet; status shows these facts.
	fmt.Println(src.Name(), src.Describe())
	// Output: oauth map[client_id:credchain-cli issuer:https://idp.example.com redirect:auto scopes:openid offline_access]
}

// A program logs a person in once and hands the login to its resolver,
// which stores it and keeps it refreshed.
func ExampleSource_Login() {
	ctx := context.Background()
	src, err := oauthpkce.New(oauthpkce.Config{
		Issuer:   "https://idp.example.com",
		ClientID: "credchain-cli",
		Scopes:   []string{"openid", "email", "offline_access"},
	})
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(ctx, resolver.Config{Sources: []resolver.Source{src}, Store: cache.NewMemory()})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	cred, err := src.Login(ctx, oauthpkce.LoginOptions{Out: os.Stderr, Paste: os.Stdin})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Store(ctx, cred); err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged in as", cred.Meta[oauthpkce.MetaEmail])
}
