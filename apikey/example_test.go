package apikey_test

import (
	"context"
	"fmt"
	"time"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/resolver"
)

// The environment sources of the default chain, highest first. A map stands
// in for os.Getenv.
func ExampleNewEnv() {
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-api03-example-key-4321\n"}
	getenv := func(k string) string { return env[k] }
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{
		apikey.NewEnv("auth-token", "ANTHROPIC_AUTH_TOKEN", resolver.KindBearer, getenv),
		apikey.NewEnv("api-key", "ANTHROPIC_API_KEY", resolver.KindAPIKey, getenv),
		apikey.NewEnv("oauth-token", "CLAUDE_CODE_OAUTH_TOKEN", resolver.KindBearer, getenv),
	}})
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
	name, _, _ := cred.Header()
	fmt.Println(cred.Source, name, cred.Masked())
	// Output: api-key x-api-key ****4321
}

// CLAUDE_CODE_API_KEY_HELPER_TTL_MS gives the helper's TTL.
func ExampleParseTTLms() {
	ttl, err := apikey.ParseTTLms("900000")
	fmt.Println(ttl, err)
	_, err = apikey.ParseTTLms("15m")
	fmt.Println(err)
	// Output:
	// 15m0s <nil>
	// apikey: CLAUDE_CODE_API_KEY_HELPER_TTL_MS="15m" is not a whole number of milliseconds; e.g. 300000 for 5 minutes
}

// A helper that prints nothing is an error that says so.
func ExampleHelper_Fetch_empty() {
	h := apikey.NewHelper(apikey.HelperOptions{Command: "exit 0", Timeout: time.Minute})
	_, err := h.Fetch(context.Background(), nil)
	fmt.Println(err)
	// Output: apikey: helper: the api_key_helper (apiKeyHelper) command printed nothing on standard output (it printed nothing on standard error); it must print the API key
}
