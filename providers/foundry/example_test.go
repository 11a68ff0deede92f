package foundry_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/credchain/credchain/providers/foundry"
	"github.com/credchain/credchain/resolver"
)

func ExampleNew() {
	src := foundry.New(foundry.Options{Enabled: true, Resource: "my-resource", Getenv: func(string) string { return "" }})
	fmt.Println(src.Name(), src.Probe() == nil, src.Describe()["base_url"])
	// Output: foundry true https://my-resource.services.ai.azure.com/anthropic
}

// A Foundry client: ANTHROPIC_FOUNDRY_API_KEY, else an Entra ID token from
// DefaultAzureCredential, refreshed before it expires.
func ExampleSource_Fetch() {
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources: []resolver.Source{foundry.New(foundry.Options{Enabled: true, Resource: "my-resource"})},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	client := &http.Client{Transport: r.Transport(nil)}
	_ = client // POST https://my-resource.services.ai.azure.com/anthropic/v1/messages
}
