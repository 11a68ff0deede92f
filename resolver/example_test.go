package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/credchain/credchain/resolver"
)

// envKey is a minimal Source: an API key from a variable.
type envKey struct{ name, variable string }

func (s envKey) Name() string { return s.name }
func (s envKey) Probe() error {
	if os.Getenv(s.variable) == "" {
		return resolver.NotConfigured("%s is not set", s.variable)
	}
	return nil
}
func (s envKey) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret(os.Getenv(s.variable))}, nil
}

func ExampleNew() {
	os.Setenv("EXAMPLE_API_KEY", "sk-example-0123456789abcdef")
	defer os.Unsetenv("EXAMPLE_API_KEY")
	ctx := context.Background()
	r, err := resolver.New(ctx, resolver.Config{Sources: []resolver.Source{
		envKey{"auth-token", "EXAMPLE_AUTH_TOKEN"},
		envKey{"api-key", "EXAMPLE_API_KEY"},
	}})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	cred, err := r.Resolve(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(cred.Source, cred.Kind, cred) // secrets are masked in every printed form
	// Output: api-key api_key credential{source=api-key kind=api_key secret=****cdef}
}

func ExampleNew_nothingConfigured() {
	ctx := context.Background()
	r, _ := resolver.New(ctx, resolver.Config{Sources: []resolver.Source{
		envKey{"auth-token", "EXAMPLE_AUTH_TOKEN"},
		envKey{"api-key", "EXAMPLE_API_KEY"},
	}})
	defer r.Close()
	_, err := r.Resolve(ctx)
	fmt.Println(errors.Is(err, resolver.ErrNoSource))
	fmt.Println(err)
	// Output:
	// true
	// no credential source is configured; tried, in order:
	//   auth-token: EXAMPLE_AUTH_TOKEN is not set
	//   api-key: EXAMPLE_API_KEY is not set
}

func ExampleResolver_Transport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("server saw x-api-key of length", len(r.Header.Get("x-api-key")))
	}))
	defer api.Close()
	os.Setenv("EXAMPLE_API_KEY", "sk-example-0123456789abcdef")
	defer os.Unsetenv("EXAMPLE_API_KEY")

	r, _ := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{envKey{"api-key", "EXAMPLE_API_KEY"}}})
	defer r.Close()
	client := &http.Client{Transport: r.Transport(nil)}
	resp, err := client.Get(api.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	// Output: server saw x-api-key of length 27
}
