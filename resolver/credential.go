package resolver

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Kind says how a credential is sent.
type Kind string

// The credential kinds. KindAPIKey, KindBearer and KindGoogle travel as one
// header (see Credential.Header); only KindAWS needs the Signer registered
// for it in Config.Signers (providers/aws.Signer).
const (
	KindAPIKey Kind = "api_key" // header x-api-key
	KindBearer Kind = "bearer"  // header Authorization: Bearer
	KindAWS    Kind = "aws"     // AWS SigV4 with AWSKeys
	KindGoogle Kind = "google"  // Authorization: Bearer with a Google access token
	// KindNone sends no credential of its own (only Headers): a provider
	// whose CLAUDE_CODE_SKIP_*_AUTH is set, behind a proxy that adds the
	// credential itself.
	KindNone Kind = "none"
)

// AWSKeys are AWS credentials.
type AWSKeys struct {
	AccessKeyID     string
	SecretAccessKey Secret
	SessionToken    Secret
	Region          string
	// Service is the SigV4 signing name ("bedrock", "bedrock-mantle",
	// "aws-external-anthropic"); empty means the Signer's default.
	Service string
}

// Credential is one credential to send, as produced by a Source. It is an
// immutable value: the resolver hands the same pointer to every caller, so
// nobody may modify a Credential after creating it, nor its AWS keys or Meta
// map. To derive one, copy the struct (c2 := *c), give the copy its own Meta
// map (maps.Clone) if it changes it, and use the copy.
//
// Every form of printing it (String, Format, GoString, JSON, slog) redacts
// the secrets.
type Credential struct {
	Kind Kind
	// Token is the API key, bearer token or Google access token.
	Token Secret
	// AWS holds the keys for KindAWS.
	AWS *AWSKeys
	// Refresh is refresh material (an OAuth refresh token); never sent to
	// the API.
	Refresh Secret
	// Expiry is when the credential stops working; zero means never.
	Expiry time.Time
	// RefreshAt, when set, is when the resolver starts a background
	// refresh even though the credential is still valid (an API-key helper's
	// TTL). When zero it is computed from Expiry and the refresh window.
	RefreshAt time.Time
	// IssuedAt is when the credential was obtained; the resolver sets it
	// when zero. A credential whose lifetime is shorter than twice the
	// refresh window is refreshed at half its life.
	IssuedAt time.Time
	// Source is the name of the source that produced it.
	Source string
	// Meta holds non-secret facts worth showing: scopes, subject, region,
	// project, token endpoint.
	Meta map[string]string
	// Headers are non-secret request headers the API needs with this
	// credential (anthropic-workspace-id, anthropic-beta). Transport sets
	// them before signing; an anthropic-beta value is added to the
	// request's own list rather than replacing it.
	Headers map[string]string
}

// Header returns the header name and value that carry a token credential, or
// ok=false for kinds that need a Signer.
func (c *Credential) Header() (name, value string, ok bool) {
	switch c.Kind {
	case KindAPIKey:
		return "x-api-key", c.Token.Reveal(), true
	case KindBearer, KindGoogle:
		return "Authorization", "Bearer " + c.Token.Reveal(), true
	}
	return "", "", false
}

// SameSecret reports whether two credentials carry the same secret material
// (token, AWS keys and refresh token).
func (c *Credential) SameSecret(o *Credential) bool {
	if c == nil || o == nil {
		return c == o
	}
	if c == o {
		return true
	}
	if c.Kind != o.Kind || !c.Token.Equal(o.Token) || !c.Refresh.Equal(o.Refresh) {
		return false
	}
	if (c.AWS == nil) != (o.AWS == nil) {
		return false
	}
	if c.AWS != nil {
		return c.AWS.AccessKeyID == o.AWS.AccessKeyID &&
			c.AWS.SecretAccessKey.Equal(o.AWS.SecretAccessKey) &&
			c.AWS.SessionToken.Equal(o.AWS.SessionToken)
	}
	return true
}

// ExpiredAt reports whether the credential has expired at t.
func (c *Credential) ExpiredAt(t time.Time) bool {
	return !c.Expiry.IsZero() && !t.Before(c.Expiry)
}

// Masked is the credential's main secret, masked.
func (c *Credential) Masked() string {
	if c.Kind == KindAWS && c.AWS != nil {
		return c.AWS.SecretAccessKey.Mask()
	}
	return c.Token.Mask()
}

// String is a one-line, redacted description.
func (c *Credential) String() string {
	if c == nil {
		return "<nil credential>"
	}
	var b strings.Builder
	b.WriteString("credential{source=")
	b.WriteString(c.Source)
	b.WriteString(" kind=")
	b.WriteString(string(c.Kind))
	if c.Kind == KindAWS && c.AWS != nil {
		b.WriteString(" access_key_id=")
		b.WriteString(c.AWS.AccessKeyID)
	}
	b.WriteString(" secret=")
	b.WriteString(c.Masked())
	if !c.Refresh.IsZero() {
		b.WriteString(" refresh=")
		b.WriteString(c.Refresh.Mask())
	}
	if !c.Expiry.IsZero() {
		b.WriteString(" expires=")
		b.WriteString(c.Expiry.UTC().Format(time.RFC3339))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is the redacted description, so %#v is safe.
func (c *Credential) GoString() string { return c.String() }

// Format writes the redacted description for every verb.
func (c *Credential) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = f.Write([]byte(strconv.Quote(c.String())))
		return
	}
	_, _ = f.Write([]byte(c.String()))
}

// credentialView is the redacted JSON form.
type credentialView struct {
	Source    string            `json:"source"`
	Kind      Kind              `json:"kind"`
	Secret    string            `json:"secret"`
	AccessKey string            `json:"access_key_id,omitempty"`
	Refresh   string            `json:"refresh,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at"`
	Meta      map[string]string `json:"meta,omitempty"`
}

func (c *Credential) view() credentialView {
	v := credentialView{Source: c.Source, Kind: c.Kind, Secret: c.Masked(), Refresh: c.Refresh.Mask(), Meta: c.Meta}
	if c.AWS != nil {
		v.AccessKey = c.AWS.AccessKeyID
	}
	if !c.Expiry.IsZero() {
		t := c.Expiry.UTC()
		v.ExpiresAt = &t
	}
	return v
}

// MarshalJSON writes a redacted object.
func (c *Credential) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }

// LogValue makes slog print a redacted group.
func (c *Credential) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("source", c.Source),
		slog.String("kind", string(c.Kind)),
		slog.String("secret", c.Masked()),
	}
	if !c.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expires", c.Expiry))
	}
	return slog.GroupValue(attrs...)
}
