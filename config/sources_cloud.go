//go:build !credchain_lean

package config

import (
	"context"
	"fmt"

	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

// CloudSourcesBuiltIn reports whether this build has the bedrock and vertex
// sources. A build with -tags credchain_lean leaves them and the AWS and
// Google SDKs out (see docs/performance.md, Start-up).
const CloudSourcesBuiltIn = true

// newCloudSource builds source bedrock or vertex.
func (s *Settings) newCloudSource(_ context.Context, name string, cfg *resolver.Config) (resolver.Source, error) {
	v := s.Variables
	switch name {
	case SourceBedrock:
		if cfg.Signers == nil {
			cfg.Signers = map[resolver.Kind]resolver.Signer{}
		}
		cfg.Signers[resolver.KindAWS] = aws.NewSigner()
		a := s.AWS
		return aws.New(aws.Options{
			Enabled: a.Enabled, Profile: a.Profile, Region: a.Region,
			RoleARN: a.RoleARN, RoleSessionName: a.RoleSessionName,
			AuthRefresh: a.AuthRefresh, CredentialExport: a.CredentialExport, CommandTimeout: a.AuthRefreshTimeout,
			Output: s.commandOutput(), Getenv: s.getenv,
			EnableVariable: v.UseBedrock, BearerTokenVariable: v.BedrockBearerToken,
		}), nil
	case SourceVertex:
		g := s.GCP
		return gcp.New(gcp.Options{
			Enabled: g.Enabled, Project: g.Project, Region: g.Region,
			CredentialsFile: g.CredentialsFile, TokenURL: g.TokenURL, Scopes: g.Scopes,
			AuthRefresh: g.AuthRefresh, CommandTimeout: g.AuthRefreshTimeout,
			Output: s.commandOutput(), Getenv: s.getenv, EnableVariable: v.UseVertex,
		}), nil
	}
	return nil, fmt.Errorf("config: unknown source %q", name)
}
