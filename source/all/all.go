// Package all lists every credential source credchain has, for programs
// that want them all (the credchain command). It links the AWS and Google
// SDKs; a program that needs fewer sources lists their descriptors itself
// and links only those.
package all

import (
	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/fdsource"
	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/providers/federation"
	"github.com/credchain/credchain/providers/foundry"
	"github.com/credchain/credchain/providers/gateway"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/source"
)

// Sources returns the descriptor of every source (config.LoadOptions.Sources).
// Their order here does not matter: the default chain follows each one's
// Order.
func Sources() []source.Descriptor {
	return []source.Descriptor{
		gateway.Descriptor(),
		aws.Descriptor(),
		foundry.Descriptor(),
		aws.AnthropicAWSDescriptor(),
		aws.MantleDescriptor(),
		gcp.Descriptor(),
		apikey.AuthTokenDescriptor(),
		apikey.APIKeyDescriptor(),
		fdsource.APIKeyDescriptor(),
		apikey.HelperDescriptor(),
		apikey.OAuthTokenDescriptor(),
		fdsource.OAuthTokenDescriptor(),
		federation.Descriptor(),
		oauthpkce.Descriptor(),
	}
}
