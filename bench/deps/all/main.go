// Command all is an embedder that links every source (package source/all),
// the AWS and Google SDKs included, as the credchain command does.
// bench/deps/measure.sh compares what it links.
package main

import (
	"github.com/credchain/credchain/bench/deps/internal/embed"
	"github.com/credchain/credchain/source/all"
)

func main() {
	embed.Main(all.Sources()...)
}
