// Command oauth is the smallest embedder that uses a stored OAuth login
// (credchain login with PKCE, refreshed with rotating refresh tokens): it
// hands config only source oauth, so it links no cloud SDK.
// bench/deps/measure.sh compares what it links.
package main

import (
	"github.com/credchain/credchain/bench/deps/internal/embed"
	"github.com/credchain/credchain/oauthpkce"
)

func main() {
	embed.Main(oauthpkce.Descriptor())
}
