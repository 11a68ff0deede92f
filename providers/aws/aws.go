// Package aws is the Amazon Bedrock credential source ("bedrock"): AWS
// credentials from aws-sdk-go-v2's own default chain (environment, shared
// files and profiles, SSO, credential_process, web identity, container and
// instance metadata), an optional role assumed through STS, the
// awsCredentialExport and awsAuthRefresh commands, and a SigV4 Signer for
// resolver.Transport.
//
// The source never caches: the resolver's scheduler is the one cache. Every
// Fetch loads the AWS configuration afresh, so the SDK's own credential cache
// starts empty and can neither hide an expiry nor serve credentials that a
// refresh command has just replaced on disk.
package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/credchain/credchain/providers/internal/identity"
	"github.com/credchain/credchain/providers/internal/shell"
	"github.com/credchain/credchain/resolver"
)

// Name is the source's name: its store key and what status shows.
const Name = "bedrock"

// Setting names, as errors and status show them.
const (
	SettingRegion           = "aws.region"
	SettingProfile          = "aws.profile"
	SettingRoleARN          = "aws.role_arn"
	SettingAuthRefresh      = "aws.auth_refresh (awsAuthRefresh)"
	SettingCredentialExport = "aws.credential_export (awsCredentialExport)"
)

// Environment variables the source reads itself (the SDK reads the rest).
const (
	EnvUseBedrock  = "CLAUDE_CODE_USE_BEDROCK"
	EnvBearerToken = "AWS_BEARER_TOKEN_BEDROCK"
)

// recheckAfter is when credentials that do not expire (long-term keys, an
// export without Expiration) are read again, so edited files or rotated
// keys are picked up; Claude Code caches such credentials for one hour.
const recheckAfter = time.Hour

// checkTimeout bounds the STS GetCallerIdentity validity check.
const checkTimeout = 15 * time.Second

// retrieveTimeout bounds one pass through the SDK's chain (an AssumeRole or
// a container endpoint on a network that swallows packets); the slowest
// provider, credential_process, stops itself after one minute.
const retrieveTimeout = 90 * time.Second

// ErrNoRegion is matched by the error returned when no AWS region is
// configured; no refresh command can fix that, so none is run.
var ErrNoRegion = fmt.Errorf("no AWS region is configured: set %s or AWS_REGION (e.g. us-east-1)", SettingRegion)

// ErrInvalidCredentials is matched by the error returned when AWS refuses
// the credentials the chain produced (STS GetCallerIdentity failed) and no
// refresh command could fix them.
var ErrInvalidCredentials = errors.New("AWS refused the credentials")

// Options configures the source. The zero value follows the environment,
// as Claude Code does.
type Options struct {
	// Enabled configures the source even when CLAUDE_CODE_USE_BEDROCK is
	// not set (aws.enabled).
	Enabled bool `mapstructure:"enabled"`
	// Profile is the shared-config profile (aws.profile); empty means
	// AWS_PROFILE or "default".
	Profile string `mapstructure:"profile"`
	// Region is the Bedrock region (aws.region); empty means AWS_REGION or
	// the profile's region.
	Region string `mapstructure:"region"`
	// RoleARN, when set, is assumed through STS with the chain's
	// credentials (aws.role_arn).
	RoleARN string `mapstructure:"role_arn"`
	// RoleSessionName names the assumed-role session (default
	// "credchain").
	RoleSessionName string `mapstructure:"role_session_name"`
	// AuthRefresh is a shell command that renews the credentials on disk,
	// such as `aws sso login` (aws.auth_refresh, awsAuthRefresh). It runs
	// only when STS refuses the credentials.
	AuthRefresh string `mapstructure:"auth_refresh"`
	// CredentialExport is a shell command that prints credentials as JSON
	// (aws.credential_export, awsCredentialExport). When set it replaces
	// the SDK chain.
	CredentialExport string `mapstructure:"credential_export"`
	// CommandTimeout bounds each command run (default 3 minutes).
	CommandTimeout time.Duration `mapstructure:"auth_refresh_timeout"`
	// RefreshCooldown is how long AuthRefresh is not run again after a run
	// (default 30 s).
	RefreshCooldown time.Duration
	// Output, when set, receives AuthRefresh's output live (an interactive
	// terminal); when nil the output is captured and put in the error.
	Output io.Writer
	// ScrubEnv names the variables removed from the environment of the
	// commands the source runs (AuthRefresh, CredentialExport), besides
	// credchain's own secrets (runner.ScrubbedEnv): the descriptor passes
	// source.Input.SecretVariables, so a command never sees the keys and
	// tokens of the other sources. The AWS_* variables (profile, keys,
	// AWS_BEARER_TOKEN_BEDROCK) those commands work with are not in it.
	ScrubEnv []string
	// HTTPClient is used by every AWS client the SDK builds (STS, SSO).
	// The machine may set AWS_CA_BUNDLE, which the SDK can only apply to an
	// awshttp.BuildableClient, so pass one of those.
	HTTPClient config.HTTPClient
	// Now is the clock for expiry checks and the cool-down (time.Now when
	// nil).
	Now func() time.Time
	// Getenv reads the variables this package reads itself (os.Getenv when
	// nil); the SDK reads its own AWS_* variables from the process.
	Getenv func(string) string
	// EnableVariable names the variable that turns the source on
	// (CLAUDE_CODE_USE_BEDROCK when empty).
	EnableVariable string
	// BearerTokenVariable names the variable holding a key sent instead of
	// signing: for bedrock and mantle a Bedrock API key sent as a bearer
	// token (AWS_BEARER_TOKEN_BEDROCK when empty), for anthropic-aws a
	// workspace key sent as x-api-key (ANTHROPIC_AWS_API_KEY when empty).
	BearerTokenVariable string
	// SkipVariable names the variable that, when truthy, makes the source
	// sign nothing, for a proxy that adds its own AWS credentials
	// (CLAUDE_CODE_SKIP_BEDROCK_AUTH, ..._ANTHROPIC_AWS_AUTH,
	// ..._MANTLE_AUTH when empty). ANTHROPIC_AUTH_TOKEN is then forwarded
	// as a bearer token, as Claude Code does.
	SkipVariable string
	// WorkspaceID is the workspace of Claude Platform on AWS
	// (anthropic_aws.workspace_id); empty means ANTHROPIC_AWS_WORKSPACE_ID.
	// Source anthropic-aws only.
	WorkspaceID string
	// WorkspaceVariable names the variable holding the workspace id
	// (ANTHROPIC_AWS_WORKSPACE_ID when empty). Source anthropic-aws only.
	WorkspaceVariable string
	// BaseURL overrides the endpoint shown by status and exported to
	// children; empty means the variable the source reads
	// (ANTHROPIC_AWS_BASE_URL, ANTHROPIC_BEDROCK_MANTLE_BASE_URL), else the
	// regional default.
	BaseURL string
}

// Source is an AWS-signed credential source: "bedrock" (New),
// "anthropic-aws" (NewAnthropicAWS) or "mantle" (NewMantle). It is safe for
// concurrent use.
type Source struct {
	opts    Options
	v       variant
	refresh *shell.Refresher
}

// New returns the "bedrock" source. It does no I/O: configuration files
// are read and STS is called only when a credential is fetched.
func New(opts Options) *Source {
	return newVariant(opts, bedrockVariant())
}

func newVariant(opts Options, v variant) *Source {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RoleSessionName == "" {
		opts.RoleSessionName = "credchain"
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.EnableVariable == "" {
		opts.EnableVariable = v.enable
	}
	if opts.BearerTokenVariable == "" {
		opts.BearerTokenVariable = v.key
	}
	if opts.SkipVariable == "" {
		opts.SkipVariable = v.skip
	}
	if opts.WorkspaceVariable == "" && v.name == NameAnthropicAWS {
		opts.WorkspaceVariable = EnvAnthropicAWSWorkspaceID
	}
	s := &Source{opts: opts, v: v}
	s.refresh = shell.NewRefresher(shell.Command{
		Setting: SettingAuthRefresh, Line: opts.AuthRefresh, Timeout: opts.CommandTimeout, ScrubEnv: opts.ScrubEnv,
	}, opts.RefreshCooldown, opts.Now, opts.Output)
	return s
}

// Name implements resolver.Source.
func (s *Source) Name() string { return s.v.name }

// Probe implements resolver.Prober: the source applies when
// CLAUDE_CODE_USE_BEDROCK is truthy or Options.Enabled is set.
func (s *Source) Probe() error {
	return resolver.ProbeSwitch(s.opts.Enabled, s.opts.Getenv, s.opts.EnableVariable)
}

// Persistent implements resolver.Persistent. Temporary credentials (an
// assumed role, SSO, credential_process, an export command) are kept in the
// shared store so other processes reuse them instead of calling STS or
// running the command again. Secrets that come from the environment
// (AWS_BEARER_TOKEN_BEDROCK, static AWS_ACCESS_KEY_ID keys) are never copied
// into the store. While the source is turned off the resolver does not read
// the store for it (its Probe says so).
func (s *Source) Persistent() bool {
	if s.skipped() || s.opts.Getenv(s.opts.BearerTokenVariable) != "" {
		return false
	}
	if s.opts.CredentialExport != "" || s.opts.RoleARN != "" {
		return true
	}
	return s.opts.Getenv("AWS_ACCESS_KEY_ID") == ""
}

// Describe implements resolver.Describer with the non-secret settings.
func (s *Source) Describe() map[string]string {
	m := map[string]string{}
	if r := s.region(); r != "" {
		m["region"] = r
	}
	if p := s.profile(); p != "" {
		m["profile"] = p
	}
	if s.opts.RoleARN != "" {
		m["role_arn"] = s.opts.RoleARN
	}
	s.describeVariant(m)
	switch {
	case s.skipped():
		m["auth"] = "none (" + s.opts.SkipVariable + ")"
	case s.opts.Getenv(s.opts.BearerTokenVariable) != "":
		m["auth"] = s.opts.BearerTokenVariable
	case s.opts.CredentialExport != "":
		m["auth"] = "credential_export"
	default:
		m["auth"] = "aws-sdk default chain"
	}
	return m
}

func (s *Source) region() string {
	if s.opts.Region != "" {
		return s.opts.Region
	}
	if r := s.opts.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return s.opts.Getenv("AWS_DEFAULT_REGION")
}

func (s *Source) profile() string {
	if s.opts.Profile != "" {
		return s.opts.Profile
	}
	return s.opts.Getenv("AWS_PROFILE")
}

// Fetch implements resolver.Source. In order: AWS_BEARER_TOKEN_BEDROCK (a
// bearer token), the export command, the SDK's default chain (plus the
// role). The SDK chain's credentials are checked with STS
// GetCallerIdentity when first obtained (prev is nil) and when the chain
// hands back exactly the credential the resolver already had while it is
// still valid — that happens when the API refused it (resolver.Invalidate)
// — and AuthRefresh runs when that check fails.
func (s *Source) Fetch(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	if err := s.checkVariant(); err != nil {
		return nil, err
	}
	if s.skipped() {
		return s.skipCredential(), nil
	}
	if tok := s.opts.Getenv(s.opts.BearerTokenVariable); tok != "" {
		meta := map[string]string{"auth": s.opts.BearerTokenVariable}
		if r := s.region(); r != "" {
			meta["region"] = r
		}
		return s.finish(&resolver.Credential{Kind: s.v.keyKind, Token: resolver.NewSecret(tok), Source: s.v.name, Meta: meta}), nil
	}
	if s.opts.CredentialExport != "" {
		cred, err := s.export(ctx)
		if err != nil {
			return nil, err
		}
		return s.finish(cred), nil
	}
	cred, err := s.fetchChain(ctx, prev)
	return s.finish(cred), err
}

// fetchChain is the SDK chain with AuthRefresh run when the credentials are
// refused.
func (s *Source) fetchChain(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	cred, err := s.fromChain(ctx, prev)
	if err == nil || s.refresh == nil || errors.Is(err, ErrNoRegion) {
		return cred, err
	}
	ran, rerr := s.refresh.Refresh(ctx)
	if rerr != nil {
		return nil, fmt.Errorf("%w; running %s to renew them failed: %w", err, SettingAuthRefresh, rerr)
	}
	// The command may have rewritten ~/.aws; fromChain loads the
	// configuration again, so nothing the SDK cached survives.
	cred, err2 := s.fromChain(ctx, nil)
	if err2 != nil {
		if !ran {
			return nil, fmt.Errorf("%w (%s ran less than %v ago and is not run again yet)", err2, SettingAuthRefresh, s.cooldown())
		}
		return nil, fmt.Errorf("%w (even after running %s)", err2, SettingAuthRefresh)
	}
	return cred, nil
}

func (s *Source) cooldown() time.Duration {
	if s.opts.RefreshCooldown > 0 {
		return s.opts.RefreshCooldown
	}
	return shell.DefaultCooldown
}

// fromChain loads the configuration, retrieves credentials and, when
// needed, checks them with STS.
func (s *Source) fromChain(ctx context.Context, prev *resolver.Credential) (*resolver.Credential, error) {
	cfg, err := s.loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	creds, err := s.retrieve(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cred := s.credential(cfg, creds)
	reissued := prev != nil && !prev.ExpiredAt(s.opts.Now()) && prev.SameSecret(cred)
	if prev != nil && !reissued {
		// A scheduled refresh from the same provider (a new session of the
		// same role, say) keeps the identity the last check found.
		if prev.Meta != nil && prev.Meta["provider"] == cred.Meta["provider"] {
			for _, k := range []string{"account", "arn"} {
				if v, ok := prev.Meta[k]; ok && cred.Meta[k] == "" {
					cred.Meta[k] = v
				}
			}
		}
		return cred, nil
	}
	ident, err := s.callerIdentity(ctx, cfg, creds)
	if err != nil {
		var api smithy.APIError
		if !errors.As(err, &api) {
			// STS unreachable (a network that only reaches Bedrock): the
			// check tells nothing, and no login can fix a network.
			return cred, nil
		}
		if s.refresh != nil {
			return nil, fmt.Errorf("%w (STS GetCallerIdentity: %w)", ErrInvalidCredentials, err)
		}
		return nil, fmt.Errorf("%w (STS GetCallerIdentity: %w); log in again (e.g. `aws sso login`) or set %s to a command that does", ErrInvalidCredentials, err, SettingAuthRefresh)
	}
	cred.Meta["account"] = sdkaws.ToString(ident.Account)
	cred.Meta["arn"] = sdkaws.ToString(ident.Arn)
	return cred, nil
}

// loadConfig loads the SDK configuration afresh.
func (s *Source) loadConfig(ctx context.Context) (sdkaws.Config, error) {
	lo := []func(*config.LoadOptions) error{
		// The SDK wraps the chain in an aws.CredentialsCache, and for some
		// providers (container credentials: 5 minutes) moves Expires
		// earlier. Our scheduler applies its own window to the real
		// expiry, so the SDK's is switched off.
		config.WithCredentialsCacheOptions(func(o *sdkaws.CredentialsCacheOptions) {
			o.ExpiryWindow, o.ExpiryWindowJitterFrac = 0, 0
		}),
	}
	if s.opts.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(s.opts.Profile))
	}
	if s.opts.Region != "" {
		lo = append(lo, config.WithRegion(s.opts.Region))
	}
	if s.opts.HTTPClient != nil {
		lo = append(lo, config.WithHTTPClient(s.opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		p := s.profile()
		if p == "" {
			p = "default"
		}
		if _, buildable := s.opts.HTTPClient.(*awshttp.BuildableClient); s.opts.HTTPClient != nil && !buildable && s.opts.Getenv("AWS_CA_BUNDLE") != "" {
			return cfg, fmt.Errorf("loading the AWS configuration: AWS_CA_BUNDLE is set and the SDK can apply it only to an awshttp.BuildableClient, but Options.HTTPClient is a %T: %w", s.opts.HTTPClient, err)
		}
		return cfg, fmt.Errorf("loading the AWS configuration (profile %q from %s or AWS_PROFILE): %w", p, SettingProfile, err)
	}
	if cfg.Region == "" {
		return cfg, ErrNoRegion
	}
	if s.opts.RoleARN != "" {
		client := sts.NewFromConfig(cfg)
		cfg.Credentials = stscreds.NewAssumeRoleProvider(client, s.opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = s.opts.RoleSessionName
		})
	}
	return cfg, nil
}

// retrieve asks the chain for credentials once.
func (s *Source) retrieve(ctx context.Context, cfg sdkaws.Config) (sdkaws.Credentials, error) {
	if cfg.Credentials == nil {
		return sdkaws.Credentials{}, errors.New("the AWS SDK found no credential provider; configure a profile, SSO, or AWS_ACCESS_KEY_ID")
	}
	// LoadDefaultConfig wraps the chain in an aws.CredentialsCache. The
	// configuration is new, so the cache is empty; invalidating says so
	// explicitly: the scheduler, not the SDK, decides when to refresh.
	if c, ok := cfg.Credentials.(*sdkaws.CredentialsCache); ok {
		c.Invalidate()
	}
	ctx, cancel := context.WithTimeout(ctx, retrieveTimeout)
	defer cancel()
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		what := "the AWS SDK's credential chain"
		if s.opts.RoleARN != "" {
			what = "assuming " + SettingRoleARN + " " + s.opts.RoleARN
		}
		return creds, fmt.Errorf("%s: %w", what, err)
	}
	return creds, nil
}

func (s *Source) credential(cfg sdkaws.Config, c sdkaws.Credentials) *resolver.Credential {
	meta := map[string]string{"region": cfg.Region}
	if p := s.profile(); p != "" {
		meta["profile"] = p
	}
	if c.Source != "" {
		meta["provider"] = c.Source
	}
	if c.AccountID != "" {
		meta["account"] = c.AccountID
	}
	cred := &resolver.Credential{
		Kind: resolver.KindAWS,
		AWS: &resolver.AWSKeys{
			AccessKeyID:     c.AccessKeyID,
			SecretAccessKey: resolver.NewSecret(c.SecretAccessKey),
			SessionToken:    resolver.NewSecret(c.SessionToken),
			Region:          cfg.Region,
		},
		Source: s.v.name,
		Meta:   meta,
	}
	if c.CanExpire {
		cred.Expiry = c.Expires
	} else {
		cred.RefreshAt = s.opts.Now().Add(recheckAfter)
	}
	return cred
}

func (s *Source) callerIdentity(ctx context.Context, cfg sdkaws.Config, creds sdkaws.Credentials) (*sts.GetCallerIdentityOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = credentials.StaticCredentialsProvider{Value: creds}
	})
	return client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
}

// exportOutput is what an export command prints: STS's shape, or the same
// fields at the top level (credential_process output also fits).
type exportOutput struct {
	Credentials *exportFields `json:"Credentials"`
	exportFields
}

type exportFields struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

// export runs the export command and parses its output. The output holds
// secrets, so no error quotes it.
func (s *Source) export(ctx context.Context) (*resolver.Credential, error) {
	cmd := shell.Command{Setting: SettingCredentialExport, Line: s.opts.CredentialExport, Timeout: s.opts.CommandTimeout, ScrubEnv: s.opts.ScrubEnv}
	out, err := shell.Run(ctx, cmd, true, nil)
	if err != nil {
		return nil, err
	}
	f, err := parseExport(out.Stdout, s.opts.Now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SettingCredentialExport, err)
	}
	region := s.region()
	if region == "" {
		return nil, ErrNoRegion
	}
	cred := &resolver.Credential{
		Kind: resolver.KindAWS,
		AWS: &resolver.AWSKeys{
			AccessKeyID:     f.AccessKeyID,
			SecretAccessKey: resolver.NewSecret(f.SecretAccessKey),
			SessionToken:    resolver.NewSecret(f.SessionToken),
			Region:          region,
		},
		Expiry: f.expiry,
		Source: s.v.name,
		Meta:   map[string]string{"region": region, "provider": "credential_export"},
	}
	if cred.Expiry.IsZero() {
		cred.RefreshAt = s.opts.Now().Add(recheckAfter)
	}
	return cred, nil
}

type parsedExport struct {
	exportFields
	expiry time.Time
}

func parseExport(data []byte, now time.Time) (parsedExport, error) {
	var out exportOutput
	if len(strings.TrimSpace(string(data))) == 0 {
		return parsedExport{}, errors.New("the command printed nothing; it must print JSON credentials on stdout")
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return parsedExport{}, fmt.Errorf("the command printed %d bytes that are not JSON credentials (%s); expected {\"Credentials\":{\"AccessKeyId\",\"SecretAccessKey\",\"SessionToken\",\"Expiration\"}}", len(data), jsonProblem(err))
	}
	f := out.exportFields
	if out.Credentials != nil {
		f = *out.Credentials
	}
	var missing []string
	if f.AccessKeyID == "" {
		missing = append(missing, "AccessKeyId")
	}
	if f.SecretAccessKey == "" {
		missing = append(missing, "SecretAccessKey")
	}
	if f.SessionToken == "" {
		missing = append(missing, "SessionToken")
	}
	if len(missing) > 0 {
		return parsedExport{}, fmt.Errorf("the command's JSON lacks %s (all of AccessKeyId, SecretAccessKey and SessionToken are required)", strings.Join(missing, ", "))
	}
	p := parsedExport{exportFields: f}
	if f.Expiration != "" {
		t, err := time.Parse(time.RFC3339, f.Expiration)
		if err != nil {
			return parsedExport{}, fmt.Errorf("the command's Expiration %q is not an RFC 3339 time", f.Expiration)
		}
		if !t.After(now) {
			return parsedExport{}, fmt.Errorf("the command printed credentials that already expired at %s", t.UTC().Format(time.RFC3339))
		}
		p.expiry = t
	}
	return p, nil
}

// jsonProblem describes a JSON error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	}
	return "invalid JSON"
}

// Identity implements resolver.Identifier: everything that decides whose
// credentials the stored record holds (profile, role, export command,
// region, the config files and web-identity role the SDK reads), so
// switching AWS_PROFILE never serves another role's stored keys. The export
// command is shown only as a hash: it may embed a secret. Claude Platform
// on AWS and Mantle add their signing service and (Claude Platform on AWS)
// the workspace, whose header the stored credential carries; bedrock's
// identity is unchanged, so its existing records keep their keys.
func (s *Source) Identity() string {
	var b identity.Builder
	p := s.profile()
	if p == "" {
		p = "default"
	}
	b.Add("profile", p)
	b.Add("role", s.opts.RoleARN)
	b.AddHash("export", s.opts.CredentialExport)
	b.Add("region", s.region())
	b.AddEnv(s.opts.Getenv, "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
	if s.v.name != Name {
		b.Add("service", s.v.service)
		b.Add("workspace", s.workspace())
	}
	return b.String()
}

var _ resolver.Identifier = (*Source)(nil)
