// Command apikey is the smallest embedder that sends an API key or a bearer
// token from the environment (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN): it
// hands config only those two sources, so it links no cloud SDK and no
// OAuth code. bench/deps/measure.sh compares what it links.
package main

import (
	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/bench/deps/internal/embed"
)

func main() {
	embed.Main(apikey.AuthTokenDescriptor(), apikey.APIKeyDescriptor())
}
