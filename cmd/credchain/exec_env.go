package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
)

// credentialEnv returns the variables (NAME=value) that carry cred to a
// child of credchain exec, per kind. A kind missing here cannot be passed
// in the environment.
func credentialEnv() map[resolver.Kind]func(cred *resolver.Credential) []string {
	return map[resolver.Kind]func(*resolver.Credential) []string{
		resolver.KindAPIKey: func(c *resolver.Credential) []string {
			return []string{"ANTHROPIC_API_KEY=" + c.Token.Reveal()}
		},
		resolver.KindBearer: func(c *resolver.Credential) []string {
			return []string{"ANTHROPIC_AUTH_TOKEN=" + c.Token.Reveal()}
		},
		resolver.KindAWS: func(c *resolver.Credential) []string {
			if c.AWS == nil {
				return nil
			}
			env := []string{"AWS_ACCESS_KEY_ID=" + c.AWS.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.AWS.SecretAccessKey.Reveal()}
			if !c.AWS.SessionToken.IsZero() {
				env = append(env, "AWS_SESSION_TOKEN="+c.AWS.SessionToken.Reveal())
			}
			if c.AWS.Region != "" {
				// Both, as aws-vault does: botocore (the v1 CLI, boto3)
				// reads only AWS_DEFAULT_REGION.
				env = append(env, "AWS_REGION="+c.AWS.Region, "AWS_DEFAULT_REGION="+c.AWS.Region)
			}
			return env
		},
		resolver.KindGoogle: func(c *resolver.Credential) []string {
			return []string{"GOOGLE_OAUTH_ACCESS_TOKEN=" + c.Token.Reveal(), "CLOUDSDK_AUTH_ACCESS_TOKEN=" + c.Token.Reveal()}
		},
	}
}

// scrubbedVariables are removed from a child's environment whatever the
// kind, so it sees exactly the one credential credchain resolved and none of
// credchain's own secrets: every variable a source declares secret (its
// credential variables and descriptor pointers, under their configured and
// default names; a child must not try to read a descriptor credchain has
// already drained), the CREDCHAIN_ variables of settings that may hold a
// secret (the API-key helper command), and the encrypted store's password.
// It is Settings.SecretVariables, the very list the sources hand to the
// commands they run (source.Input), so the two cannot drift.
func scrubbedVariables(s *config.Settings) []string {
	return s.SecretVariables()
}

// exporterOf is the source of cred when it names its own child variables
// (resolver.EnvExporter), else nil.
func exporterOf(r *resolver.Resolver, cred *resolver.Credential) resolver.EnvExporter {
	for _, src := range r.Sources() {
		if src.Name() == cred.Source {
			x, _ := src.(resolver.EnvExporter)
			return x
		}
	}
	return nil
}

// credentialVars are the variables that carry cred to a child: the ones its
// source names (ANTHROPIC_FOUNDRY_API_KEY, ANTHROPIC_AWS_API_KEY, ...),
// else the kind's. A credential of kind none (CLAUDE_CODE_SKIP_*_AUTH) has
// none: the child inherits the SKIP variable and lets its proxy sign.
func credentialVars(cred *resolver.Credential, x resolver.EnvExporter) ([]string, error) {
	if x != nil {
		if add := x.ChildEnv(cred); add != nil {
			return add, nil
		}
	}
	if cred.Kind == resolver.KindNone {
		return nil, nil
	}
	f, ok := credentialEnv()[cred.Kind]
	if !ok {
		return nil, fmt.Errorf("a credential of kind %s from %s cannot be passed in the environment", cred.Kind, cred.Source)
	}
	add := f(cred)
	if len(add) == 0 {
		return nil, fmt.Errorf("the %s credential from %s is empty", cred.Kind, cred.Source)
	}
	return add, nil
}

// childEnv is base without the scrubbed variables and without any variable
// the credential sets, followed by the credential's variables (x, when not
// nil, is its source's own naming of them).
func childEnv(base, scrub []string, cred *resolver.Credential, x resolver.EnvExporter) ([]string, error) {
	add, err := credentialVars(cred, x)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	drop := slices.Clone(scrub)
	if cred.Kind == resolver.KindAWS {
		// Long-term keys carry no session token; a parent's stale one must
		// not reach the child paired with them.
		drop = append(drop, "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
	}
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		drop = append(drop, name)
	}
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			out = append(out, kv)
		}
	}
	return append(out, add...), nil
}
