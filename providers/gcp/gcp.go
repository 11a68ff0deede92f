// Package gcp is the Google Vertex AI credential source ("vertex"): Google
// access tokens from cloud.google.com/go/auth's application default
// credentials (an explicit file, GOOGLE_APPLICATION_CREDENTIALS, the gcloud
// ADC file, the metadata server), so service accounts, authorized users,
// workload identity federation and impersonation all come from Google's own
// library; plus the gcpAuthRefresh command.
//
// The library's tokens flow through the resolver's one scheduler: the
// source asks the library for exactly one token per Fetch, and the resolver
// decides when to fetch (its refresh window, its store, its events).
package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"

	"github.com/credchain/credchain/providers/internal/shell"
	"github.com/credchain/credchain/providers/internal/skipauth"
	"github.com/credchain/credchain/resolver"
)

// Name is the source's name: its store key and what status shows.
const Name = "vertex"

// Setting names, as errors and status show them.
const (
	SettingCredentialsFile = "gcp.credentials_file"
	SettingTokenURL        = "gcp.token_url"
	SettingProject         = "gcp.project"
	SettingRegion          = "gcp.region"
	SettingAuthRefresh     = "gcp.auth_refresh (gcpAuthRefresh)"
)

// Environment variables the source reads itself (the library reads the
// rest).
const (
	EnvUseVertex = "CLAUDE_CODE_USE_VERTEX"
	EnvRegion    = "CLOUD_ML_REGION"
)

// projectVariables name the project, in Claude Code's order of preference.
var projectVariables = []string{"GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "ANTHROPIC_VERTEX_PROJECT_ID"}

// DefaultRegion is Claude Code's Vertex region when none is configured.
const DefaultRegion = "us-east5"

// DefaultScope is the OAuth scope Vertex AI needs.
const DefaultScope = "https://www.googleapis.com/auth/cloud-platform"

// tokenTimeout bounds one token request (Claude Code races it against 5 s;
// a metadata server or an STS exchange under load can be slower).
const tokenTimeout = 30 * time.Second

// Options configures the source. The zero value follows the environment,
// as Claude Code does.
type Options struct {
	// Enabled configures the source even when CLAUDE_CODE_USE_VERTEX is
	// not set (gcp.enabled).
	Enabled bool `mapstructure:"enabled"`
	// CredentialsFile is a Google credentials JSON file
	// (gcp.credentials_file); empty means GOOGLE_APPLICATION_CREDENTIALS,
	// then gcloud's ADC file, then the metadata server.
	CredentialsFile string `mapstructure:"credentials_file"`
	// TokenURL is the token endpoint for authorized-user credentials
	// (gcp.token_url); empty means the file's own token_uri (which the
	// library would ignore), then Google's endpoint.
	TokenURL string `mapstructure:"token_url"`
	// Project is the Google Cloud project (gcp.project); empty means
	// GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT, ANTHROPIC_VERTEX_PROJECT_ID,
	// then the credentials' own project.
	Project string `mapstructure:"project"`
	// Region is the Vertex region (gcp.region); empty means
	// CLOUD_ML_REGION, then DefaultRegion.
	Region string `mapstructure:"region"`
	// Scopes requested (default cloud-platform).
	Scopes []string `mapstructure:"scopes"`
	// AuthRefresh is a shell command that renews the credentials, such as
	// `gcloud auth application-default login` (gcp.auth_refresh,
	// gcpAuthRefresh). It runs only when getting a token fails.
	AuthRefresh string `mapstructure:"auth_refresh"`
	// CommandTimeout bounds an AuthRefresh run (default 3 minutes).
	CommandTimeout time.Duration `mapstructure:"auth_refresh_timeout"`
	// RefreshCooldown is how long AuthRefresh is not run again after a run
	// (default 30 s).
	RefreshCooldown time.Duration
	// Output, when set, receives AuthRefresh's output live (an interactive
	// terminal); when nil the output is captured and put in the error.
	Output io.Writer
	// ScrubEnv names the variables removed from the environment of the
	// command the source runs (AuthRefresh), besides credchain's own
	// secrets (runner.ScrubbedEnv): the descriptor passes
	// source.Input.SecretVariables, so a refresh command never sees the
	// keys and tokens of the other sources. The Google variables
	// (CLOUDSDK_*, GOOGLE_APPLICATION_CREDENTIALS) gcloud works with are
	// not in it.
	ScrubEnv []string
	// HTTPClient makes the token requests (the library's default when nil).
	HTTPClient *http.Client
	// Now is the clock for the cool-down (time.Now when nil).
	Now func() time.Time
	// Getenv reads the variables this package reads itself (os.Getenv when
	// nil); the library reads its own variables from the process.
	Getenv func(string) string
	// EnableVariable names the variable that turns the source on
	// (CLAUDE_CODE_USE_VERTEX when empty).
	EnableVariable string
	// SkipVariable names the variable that, truthy, makes the source send
	// no Google token, for a proxy that adds its own credentials
	// (CLAUDE_CODE_SKIP_VERTEX_AUTH when empty); ANTHROPIC_AUTH_TOKEN is
	// then forwarded as a bearer token when set.
	SkipVariable string
}

// Source is the "vertex" credential source. It is safe for concurrent use.
type Source struct {
	opts    Options
	refresh *shell.Refresher
}

// New returns the source. It does no I/O: credentials are detected only
// when a token is fetched.
func New(opts Options) *Source {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{DefaultScope}
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.EnableVariable == "" {
		opts.EnableVariable = EnvUseVertex
	}
	if opts.SkipVariable == "" {
		opts.SkipVariable = EnvSkipVertexAuth
	}
	s := &Source{opts: opts}
	s.refresh = shell.NewRefresher(shell.Command{
		Setting: SettingAuthRefresh, Line: opts.AuthRefresh, Timeout: opts.CommandTimeout, ScrubEnv: opts.ScrubEnv,
	}, opts.RefreshCooldown, opts.Now, opts.Output)
	return s
}

// Name implements resolver.Source.
func (s *Source) Name() string { return Name }

// Probe implements resolver.Prober: the source applies when
// CLAUDE_CODE_USE_VERTEX is truthy or Options.Enabled is set.
func (s *Source) Probe() error {
	return resolver.ProbeSwitch(s.opts.Enabled, s.opts.Getenv, s.opts.EnableVariable)
}

// Persistent implements resolver.Persistent: access tokens are kept in the
// shared store, so other processes reuse them until the refresh window.
// While the source is turned off the resolver does not read the store for it
// (its Probe says so).
func (s *Source) Persistent() bool { return !s.skipped() }

// EnvSkipVertexAuth is Claude Code's variable for a proxy that
// authenticates to Vertex itself.
const EnvSkipVertexAuth = "CLAUDE_CODE_SKIP_VERTEX_AUTH"

func (s *Source) skipped() bool { return resolver.Truthy(s.opts.Getenv(s.opts.SkipVariable)) }

// Describe implements resolver.Describer with the non-secret settings.
func (s *Source) Describe() map[string]string {
	m := map[string]string{"region": s.region()}
	if p := s.configuredProject(); p != "" {
		m["project"] = p
	}
	if f, _ := s.credentialsFile(); f != "" {
		m["credentials_file"] = f
	}
	if s.opts.TokenURL != "" {
		m["token_url"] = s.opts.TokenURL
	}
	return m
}

func (s *Source) region() string {
	if s.opts.Region != "" {
		return s.opts.Region
	}
	if r := s.opts.Getenv(EnvRegion); r != "" {
		return r
	}
	return DefaultRegion
}

func (s *Source) configuredProject() string {
	if s.opts.Project != "" {
		return s.opts.Project
	}
	for _, v := range projectVariables {
		if p := s.opts.Getenv(v); p != "" {
			return p
		}
	}
	return ""
}

// credentialsFile is the explicit file and the setting it came from.
func (s *Source) credentialsFile() (path, setting string) {
	if s.opts.CredentialsFile != "" {
		return s.opts.CredentialsFile, SettingCredentialsFile
	}
	if f := s.opts.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
		return f, "GOOGLE_APPLICATION_CREDENTIALS"
	}
	return "", ""
}

// Fetch implements resolver.Source. prev is not needed: the library holds
// whatever refresh material the credentials have (a refresh token, a key).
// When getting a token fails and AuthRefresh is set, the command runs
// (unless it ran within the cool-down) and the token is asked for once
// more.
func (s *Source) Fetch(ctx context.Context, _ *resolver.Credential) (*resolver.Credential, error) {
	if s.skipped() {
		return skipauth.Credential(Name, s.opts.SkipVariable, s.opts.Getenv, map[string]string{"region": s.region()}), nil
	}
	cred, err := s.fetch(ctx)
	if err == nil || s.refresh == nil {
		return cred, err
	}
	ran, rerr := s.refresh.Refresh(ctx)
	if rerr != nil {
		return nil, fmt.Errorf("%w; running %s to renew the credentials failed: %w", err, SettingAuthRefresh, rerr)
	}
	cred, err2 := s.fetch(ctx)
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

func (s *Source) fetch(ctx context.Context) (*resolver.Credential, error) {
	creds, err := s.detect()
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	tok, err := creds.Token(tctx)
	if err != nil {
		return nil, fmt.Errorf("getting a Google access token: %w; %s", err, s.hint())
	}
	if tok.Value == "" {
		return nil, fmt.Errorf("the Google credentials returned an empty access token")
	}
	meta := map[string]string{"region": s.region()}
	project := s.configuredProject()
	if project == "" {
		// The credentials' own project: project_id of a service account
		// file, or the metadata server's project. Not knowing it is not an
		// error for the token; status shows it missing.
		project, _ = creds.ProjectID(tctx)
	}
	if project != "" {
		meta["project"] = project
	}
	if qp, _ := creds.QuotaProjectID(tctx); qp != "" {
		meta["quota_project"] = qp
	}
	return &resolver.Credential{
		Kind:   resolver.KindGoogle,
		Token:  resolver.NewSecret(tok.Value),
		Expiry: tok.Expiry,
		Source: Name,
		Meta:   meta,
	}, nil
}

func (s *Source) hint() string {
	if s.refresh != nil {
		return "renewing them with " + SettingAuthRefresh
	}
	return "renew the credentials (e.g. `gcloud auth application-default login`) or set " + SettingAuthRefresh + " to a command that does"
}

// detect builds fresh credentials for every Fetch. The library wraps every
// token provider in a cache that refreshes 3m45s before expiry, in the
// background; running that beside the resolver's scheduler would mean two
// caches with two windows. New credentials have an empty cache, so their
// first Token call fetches exactly one token, synchronously
// (DisableAsyncRefresh leaves no goroutine behind), and the credentials are
// then dropped: the resolver alone decides when the next token is fetched.
// Detection itself is cheap (a file read; no network).
func (s *Source) detect() (*auth.Credentials, error) {
	opts := &credentials.DetectOptions{
		Scopes:              s.opts.Scopes,
		TokenURL:            s.opts.TokenURL,
		Client:              s.opts.HTTPClient,
		DisableAsyncRefresh: true,
	}
	if path, setting := s.credentialsFile(); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the Google credentials file %s (%s): %w", path, setting, err)
		}
		typ, err := credentialsType(data)
		if err != nil {
			return nil, fmt.Errorf("the Google credentials file %s (%s) %w", path, setting, err)
		}
		if opts.TokenURL == "" && typ == credentials.AuthorizedUser {
			opts.TokenURL = tokenURI(data)
		}
		creds, err := credentials.NewCredentialsFromJSON(typ, data, opts)
		if err != nil {
			return nil, fmt.Errorf("the Google credentials file %s (%s) cannot be used: %w", path, setting, err)
		}
		return creds, nil
	}
	if opts.TokenURL == "" {
		// gcloud's ADC file, which DetectDefault reads next.
		if data, err := os.ReadFile(s.adcPath()); err == nil {
			if typ, err := credentialsType(data); err == nil && typ == credentials.AuthorizedUser {
				opts.TokenURL = tokenURI(data)
			}
		}
	}
	creds, err := credentials.DetectDefault(opts)
	if err != nil {
		return nil, fmt.Errorf("finding Google application default credentials: %w; set %s or GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`", err, SettingCredentialsFile)
	}
	return creds, nil
}

// tokenURI is an authorized-user file's token_uri ("" when absent).
// cloud.google.com/go/auth ignores it and always uses Google's endpoint.
func tokenURI(data []byte) string {
	var f struct {
		TokenURI string `json:"token_uri"`
	}
	_ = json.Unmarshal(data, &f)
	return f.TokenURI
}

// credentialsType reads the "type" of a credentials file without quoting
// the file (it holds a private key or a refresh token).
func credentialsType(data []byte) (credentials.CredType, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		var syn *json.SyntaxError
		where := ""
		if errors.As(err, &syn) {
			where = fmt.Sprintf(" (syntax error at byte %d)", syn.Offset)
		}
		return "", fmt.Errorf("is not valid JSON%s; it must be a Google credentials file (service account key, authorized user, external account)", where)
	}
	switch t := credentials.CredType(head.Type); t {
	case credentials.ServiceAccount, credentials.AuthorizedUser, credentials.ExternalAccount,
		credentials.ImpersonatedServiceAccount, credentials.GDCHServiceAccount, credentials.ExternalAccountAuthorizedUser:
		return t, nil
	case "":
		return "", errors.New(`has no "type" field; it must be a Google credentials file (service account key, authorized user, external account)`)
	default:
		return "", fmt.Errorf("has unsupported type %q", strings.ToValidUTF8(head.Type, "?"))
	}
}

// Identity implements resolver.Identifier: the credentials file (or ADC,
// or the metadata server), the principal and impersonation target it names,
// the scopes and the token URL, so another file or target never gets this
// one's stored token. Only non-secret fields of the file are read.
func (s *Source) Identity() string {
	parts := []string{}
	file, _ := s.credentialsFile()
	if file == "" {
		file = "adc"
		if p := s.adcPath(); p != "" {
			if _, err := os.Stat(p); err == nil {
				file = p
			}
		}
	}
	parts = append(parts, "credentials="+file)
	if file != "adc" {
		if raw, err := readBounded(file); err == nil {
			var head struct {
				Type          string `json:"type"`
				ClientEmail   string `json:"client_email"`
				ClientID      string `json:"client_id"`
				Impersonation string `json:"service_account_impersonation_url"`
				Audience      string `json:"audience"`
			}
			if json.Unmarshal(raw, &head) == nil {
				for k, v := range map[string]string{"type": head.Type, "principal": head.ClientEmail, "client_id": head.ClientID,
					"impersonate": head.Impersonation, "audience": head.Audience} {
					if v != "" {
						parts = append(parts, k+"="+v)
					}
				}
			}
		}
	}
	parts = append(parts, "scopes="+strings.Join(s.opts.Scopes, ","))
	if s.opts.TokenURL != "" {
		parts = append(parts, "token_url="+s.opts.TokenURL)
	}
	slices.Sort(parts[1:])
	return strings.Join(parts, " ")
}

// readBounded reads a credentials file of at most 1 MiB.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// adcPath is gcloud's application default credentials file where
// cloud.google.com/go/auth looks for it (as does Claude Code's
// google-auth-library): %APPDATA%\gcloud on Windows, else ~/.config/gcloud.
// Neither library reads CLOUDSDK_CONFIG, so neither does this: the file
// whose token_uri and identity the source uses must be the one the library
// loads. "" when there is no home directory.
func (s *Source) adcPath() string {
	const name = "application_default_credentials.json"
	if runtime.GOOS == "windows" {
		return filepath.Join(s.opts.Getenv("APPDATA"), "gcloud", name)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "gcloud", name)
}

var _ resolver.Identifier = (*Source)(nil)
