//go:build unix && integration

package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// childEnviron parses the output of env(1) run as credchain's child.
func childEnviron(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestExecChildGetsNoOtherSecret runs the real binary, whose child is
// env(1), and reads the child's environment: every variable a source
// declares secret (under its default and its configured name), the file
// store's password and the API-key helper command are gone; the resolved
// credential and unrelated variables are there. Both for exec and for exec
// --serve (whose credential is served, not exported).
func TestExecChildGetsNoOtherSecret(t *testing.T) {
	secrets := []string{
		"ANTHROPIC_AUTH_TOKEN=auth-token-secret-0123456789",
		"CLAUDE_CODE_OAUTH_TOKEN=oauth-token-secret-0123456789",
		"MY_OAUTH_TOKEN=renamed-oauth-secret-0123456789",
		"CREDCHAIN_VARIABLES_OAUTH_TOKEN=MY_OAUTH_TOKEN",
		"CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR=9",
		"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR=8",
		"CREDCHAIN_FILE_PASSWORD=file-password-secret-0123456789",
		"CREDCHAIN_API_KEY_HELPER=printf helper-key-secret-0123456789",
	}
	gone := []string{"ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "MY_OAUTH_TOKEN", "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
		"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", "CREDCHAIN_FILE_PASSWORD", "CREDCHAIN_API_KEY_HELPER"}
	envPath := "/usr/bin/env"
	if _, err := os.Stat(envPath); err != nil {
		envPath = "/bin/env"
	}
	export := writeFile(t, t.TempDir(), "export.sh",
		"#!/bin/sh\nprintf '{\"AccessKeyId\":\"AKIAEXPORT0000000001\",\"SecretAccessKey\":\"export-secret-abcdefgh\",\"SessionToken\":\"export-session\"}\\n'\n", 0o755)
	tests := []struct {
		name string
		env  []string
		args []string
		want map[string]string // variables the child must have
	}{
		{"exec", slices.Concat(secrets, []string{"ANTHROPIC_API_KEY=" + key40, "KEEP=kept",
			"CREDCHAIN_CHAIN=api-key auth-token oauth-token api-key-fd oauth-token-fd api-key-helper"}), []string{"exec", "--", envPath},
			map[string]string{"ANTHROPIC_API_KEY": key40, "KEEP": "kept"}},
		{"exec --serve", slices.Concat(secrets, []string{"CLAUDE_CODE_USE_BEDROCK=1", "AWS_REGION=eu-west-3", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "CREDCHAIN_AWS_CREDENTIAL_EXPORT=" + export, "KEEP=kept"}),
			[]string{"exec", "--serve", "--", envPath}, map[string]string{"AWS_REGION": "eu-west-3", "KEEP": "kept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, cliEnv(t, tt.env...), nil, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
			child := childEnviron(r.out)
			for _, name := range gone {
				if v, ok := child[name]; ok {
					t.Errorf("the child inherited %s (%d characters)", name, len(v))
				}
			}
			for k, v := range tt.want {
				if child[k] != v {
					t.Errorf("child %s = %q, want %q", k, child[k], v)
				}
			}
			for _, s := range []string{"secret-0123456789", "export-secret"} {
				if strings.Contains(r.out, s) {
					t.Errorf("a secret (%s...) reached the child's environment", s)
				}
			}
		})
	}
}
