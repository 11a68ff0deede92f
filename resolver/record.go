package resolver

import (
	"encoding/json"
	"fmt"
	"time"
)

// recordVersion is the version of the stored record format. A later version
// migrates older records in decodeRecord.
const recordVersion = 1

// record is the stored form of a Credential: one versioned JSON object per
// source. It is the only place secrets are serialised in clear.
type record struct {
	Version   int               `json:"version"`
	Source    string            `json:"source"`
	Kind      Kind              `json:"kind"`
	Token     string            `json:"token,omitempty"`
	Refresh   string            `json:"refresh_token,omitempty"`
	AWS       *awsRecord        `json:"aws,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	RefreshAt *time.Time        `json:"refresh_at,omitempty"`
	IssuedAt  *time.Time        `json:"issued_at,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	StoredAt  time.Time         `json:"stored_at"`
}

type awsRecord struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token,omitempty"`
	Region          string `json:"region,omitempty"`
	Service         string `json:"service,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// EncodeRecord returns the stored form of c.
func EncodeRecord(c *Credential, now time.Time) ([]byte, error) {
	rec := record{
		Version: recordVersion, Source: c.Source, Kind: c.Kind,
		Token: c.Token.Reveal(), Refresh: c.Refresh.Reveal(),
		ExpiresAt: timePtr(c.Expiry), RefreshAt: timePtr(c.RefreshAt), IssuedAt: timePtr(c.IssuedAt),
		Meta: c.Meta, Headers: c.Headers, StoredAt: now.UTC(),
	}
	if c.AWS != nil {
		rec.AWS = &awsRecord{
			AccessKeyID: c.AWS.AccessKeyID, SecretAccessKey: c.AWS.SecretAccessKey.Reveal(),
			SessionToken: c.AWS.SessionToken.Reveal(), Region: c.AWS.Region, Service: c.AWS.Service,
		}
	}
	return json.Marshal(rec)
}

// DecodeRecord parses a stored record. A record of an unknown newer version
// or a damaged one is an error (it is left in the store untouched).
func DecodeRecord(data []byte) (*Credential, error) {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("stored record is not valid JSON: %w", err)
	}
	if rec.Version < 1 || rec.Version > recordVersion {
		return nil, fmt.Errorf("stored record has version %d; this credchain reads version %d (upgrade credchain)", rec.Version, recordVersion)
	}
	if rec.Kind == "" {
		return nil, fmt.Errorf("stored record has no kind")
	}
	c := &Credential{
		Kind: rec.Kind, Token: NewSecret(rec.Token), Refresh: NewSecret(rec.Refresh),
		Expiry: timeVal(rec.ExpiresAt), RefreshAt: timeVal(rec.RefreshAt), IssuedAt: timeVal(rec.IssuedAt),
		Source: rec.Source, Meta: rec.Meta, Headers: rec.Headers,
	}
	if rec.AWS != nil {
		c.AWS = &AWSKeys{
			AccessKeyID: rec.AWS.AccessKeyID, SecretAccessKey: NewSecret(rec.AWS.SecretAccessKey),
			SessionToken: NewSecret(rec.AWS.SessionToken), Region: rec.AWS.Region, Service: rec.AWS.Service,
		}
	}
	return c, nil
}
