package anthropicsdk_test

import (
	"context"
	"log"

	"github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/integrations/anthropicsdk"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

// A program that calls the Messages API with whatever credential the chain
// resolves: an API key, a helper's key, an OAuth login, Bedrock or Vertex.
func Example() {
	ctx := context.Background()
	settings, err := config.Load(config.LoadOptions{Sources: all.Sources()})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := settings.Build(ctx)
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	opts, err := anthropicsdk.Options(ctx, r) // fails here when nothing is configured
	if err != nil {
		log.Fatal(err)
	}
	client := anthropic.NewClient(opts...)
	msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeSonnet5_5,
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(msg.Content[0].Text)
}
