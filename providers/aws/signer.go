package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/credchain/credchain/resolver"
)

// SigningName is the SigV4 service name of Bedrock and Bedrock Runtime
// (not "bedrock-runtime").
const SigningName = "bedrock"

// emptyPayloadHash is the SHA-256 of an empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbe4c8996fb92427ae41e4649b934ca495991b7852b855"

// Signer signs requests with SigV4 for resolver.Transport; register it as
// resolver.Config.Signers[resolver.KindAWS]. The service is the
// credential's AWSKeys.Service when set (bedrock-mantle,
// aws-external-anthropic), else the signer's own ("bedrock"). Each call signs anew, with the
// current time and the credential's region, so a retried request never
// reuses a signature.
type Signer struct {
	v4      *v4.Signer
	service string
	now     func() time.Time
}

// SignerOption changes a Signer.
type SignerOption func(*Signer)

// WithService signs for another service name than "bedrock".
func WithService(name string) SignerOption { return func(s *Signer) { s.service = name } }

// WithSigningClock sets the signing clock (time.Now by default). AWS refuses
// signatures more than 5 minutes off, so this is for tests only.
func WithSigningClock(now func() time.Time) SignerOption { return func(s *Signer) { s.now = now } }

// NewSigner returns a SigV4 signer for Bedrock.
func NewSigner(opts ...SignerOption) *Signer {
	s := &Signer{v4: v4.NewSigner(), service: SigningName, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ resolver.Signer = (*Signer)(nil)

// Sign implements resolver.Signer. The payload hash covers the body, read
// through req.GetBody when there is one; otherwise the body is buffered and
// GetBody set, so the request can still be sent and replayed.
func (s *Signer) Sign(ctx context.Context, req *http.Request, cred *resolver.Credential) error {
	if cred == nil || cred.Kind != resolver.KindAWS || cred.AWS == nil {
		return errors.New("aws signer: the credential carries no AWS keys")
	}
	if cred.AWS.Region == "" {
		return fmt.Errorf("aws signer: the credential has no region; set %s or AWS_REGION", SettingRegion)
	}
	hash, err := payloadHash(req)
	if err != nil {
		return fmt.Errorf("aws signer: hashing the request body: %w", err)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		req.Header.Del(h)
	}
	creds := sdkaws.Credentials{
		AccessKeyID:     cred.AWS.AccessKeyID,
		SecretAccessKey: cred.AWS.SecretAccessKey.Reveal(),
		SessionToken:    cred.AWS.SessionToken.Reveal(),
	}
	service := s.service
	if cred.AWS.Service != "" {
		// One signer serves every AWS-signed source; the credential says
		// which service it was made for.
		service = cred.AWS.Service
	}
	if err := s.v4.SignHTTP(ctx, creds, req, hash, service, cred.AWS.Region, s.now().UTC()); err != nil {
		return fmt.Errorf("aws signer: %w", err)
	}
	return nil
}

func payloadHash(req *http.Request) (string, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return emptyPayloadHash, nil
	}
	h := sha256.New()
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return "", err
		}
		defer body.Close()
		if _, err := io.Copy(h, body); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	data, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return "", err
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	req.ContentLength = int64(len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}
