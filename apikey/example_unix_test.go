//go:build unix

package apikey_test

import (
	"context"
	"fmt"
	"time"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/resolver"
)

// A helper command prints the key; the resolver uses it for the TTL, then
// re-runs the helper in the background while still serving it, and after a
// 401 through r.Transport.
func ExampleNewHelper() {
	h := apikey.NewHelper(apikey.HelperOptions{
		Command: "echo sk-ant-api03-from-a-vault-8765", // e.g. "vault kv get -field=key secret/anthropic"
		TTL:     15 * time.Minute,
		Timeout: 30 * time.Second,
	})
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{h}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	cred, err := r.Resolve(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cred.Source, cred.Kind, cred.Masked(), cred.RefreshAt.Sub(cred.IssuedAt))
	// Output: api-key-helper api_key ****8765 15m0s
}
