package config_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// EnabledCloudSources is what a lean build decides a hand-over on, so it
// must agree with the real bedrock and vertex sources' Probe.
func TestEnabledCloudSourcesAgreesWithProbe(t *testing.T) {
	testenv.Hermetic(t)
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing turned on", map[string]string{}, nil},
		{"bedrock by variable", map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1"}, []string{"bedrock"}},
		{"vertex by variable, any case", map[string]string{"CLAUDE_CODE_USE_VERTEX": " TRUE "}, []string{"vertex"}},
		{"falsy values", map[string]string{"CLAUDE_CODE_USE_BEDROCK": "0", "CLAUDE_CODE_USE_VERTEX": "off"}, nil},
		{"both, in chain order", map[string]string{"CLAUDE_CODE_USE_VERTEX": "yes", "CLAUDE_CODE_USE_BEDROCK": "on"}, []string{"bedrock", "vertex"}},
		{"aws.enabled setting", map[string]string{"CREDCHAIN_AWS_ENABLED": "true"}, []string{"bedrock"}},
		{"gcp.enabled setting", map[string]string{"CREDCHAIN_GCP_ENABLED": "true"}, []string{"vertex"}},
		{"renamed variable", map[string]string{"CREDCHAIN_VARIABLES_USE_BEDROCK": "MY_BEDROCK", "MY_BEDROCK": "1", "CLAUDE_CODE_USE_BEDROCK": "1"}, []string{"bedrock"}},
		{"renamed variable unset", map[string]string{"CREDCHAIN_VARIABLES_USE_BEDROCK": "MY_BEDROCK", "CLAUDE_CODE_USE_BEDROCK": "1"}, nil},
		{"not in the chain", map[string]string{"CREDCHAIN_CHAIN": "api-key,vertex", "CLAUDE_CODE_USE_BEDROCK": "1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.Load(config.LoadOptions{Getenv: func(k string) string { return tt.env[k] }})
			if err != nil {
				t.Fatal(err)
			}
			got := s.EnabledCloudSources()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("EnabledCloudSources() = %q, want %q", got, tt.want)
			}
			cfg, err := s.Build(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range cfg.Sources {
				name := src.Name()
				if name != config.SourceBedrock && name != config.SourceVertex {
					continue
				}
				p, ok := src.(resolver.Prober)
				if !ok {
					t.Fatalf("source %s has no Probe", name)
				}
				err := p.Probe()
				if err != nil && !errors.Is(err, resolver.ErrNotConfigured) {
					t.Fatalf("%s: Probe() = %v", name, err)
				}
				if on := err == nil; on != slices.Contains(got, name) {
					t.Errorf("%s: Probe says turned on = %v, EnabledCloudSources says %v", name, on, !on)
				}
			}
		})
	}
}

func TestCloudSourcesBuiltIn(t *testing.T) {
	if !config.CloudSourcesBuiltIn {
		t.Fatal("the default build must have the cloud sources; credchain_lean is for the lean CLI binary only")
	}
}
