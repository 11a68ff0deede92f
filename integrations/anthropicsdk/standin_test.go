package anthropicsdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// standIn is a loopback stand-in of the Messages API as the first-party
// API, Bedrock and Vertex serve it. It accepts the secrets it is told to
// (and refuses the rest with 401, or 403 for a refused AWS signature),
// verifies SigV4 with aws-sdk-go-v2's own signer, and records every
// protocol violation: more than one credential on a request, a body that
// does not match its Content-Length, a bad signature.
type standIn struct {
	srv *httptest.Server

	mu       sync.Mutex
	apiKeys  map[string]bool   // accepted x-api-key values
	bearers  map[string]bool   // accepted Authorization: Bearer values
	awsKeys  map[string]string // accepted access key id → secret key
	session  string            // the session token every AWS key carries
	problems []string

	requests atomic.Int64
	refused  atomic.Int64
	ok       atomic.Int64
	lastHdr  atomic.Pointer[http.Header]
	lastBody atomic.Pointer[[]byte]
	lastPath atomic.Pointer[string]
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{apiKeys: map[string]bool{}, bearers: map[string]bool{}, awsKeys: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// accept replaces the accepted secrets of one kind ("api-key", "bearer").
func (s *standIn) accept(kind string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]bool{}
	for _, v := range values {
		m[v] = true
	}
	if kind == "api-key" {
		s.apiKeys = m
	} else {
		s.bearers = m
	}
}

func (s *standIn) acceptAWS(id, secret, session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.awsKeys = map[string]string{id: secret}
	s.session = session
}

func (s *standIn) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 20 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

func (s *standIn) checkNoProblems(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) > 0 {
		t.Fatalf("the stand-in saw protocol violations:\n%s", strings.Join(s.problems, "\n"))
	}
}

var credentialHeaders = []string{"X-Api-Key", "Authorization", "Api-Key"}

const messageJSON = `{"id":"msg_01","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`

var (
	bedrockPath = regexp.MustCompile(`^/model/[^/]+/invoke$`)
	vertexPath  = regexp.MustCompile(`^/v1/projects/([^/]+)/locations/([^/]+)/publishers/anthropic/models/[^/:]+:rawPredict$`)
)

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil || int64(len(body)) != r.ContentLength {
		s.problem("%s: body of %d bytes, Content-Length %d (%v)", r.URL.Path, len(body), r.ContentLength, err)
	}
	h := r.Header.Clone()
	s.lastHdr.Store(&h)
	s.lastBody.Store(&body)
	path := r.URL.Path
	s.lastPath.Store(&path)
	var n int
	for _, c := range credentialHeaders {
		n += len(r.Header.Values(c))
	}
	if n != 1 {
		s.problem("%s: %d credential headers (x-api-key %q, authorization %d values)", r.URL.Path, n, r.Header.Values("X-Api-Key"), len(r.Header.Values("Authorization")))
	}
	if r.Method != http.MethodPost || !json.Valid(body) {
		s.problem("%s %s: not a JSON POST", r.Method, r.URL.Path)
	}
	status := http.StatusUnauthorized
	switch {
	case r.URL.Path == "/v1/messages":
		if s.tokenOK(r) {
			status = http.StatusOK
		}
	case bedrockPath.MatchString(r.URL.Path):
		if !bytes.Contains(body, []byte(`"anthropic_version"`)) {
			s.problem("bedrock: body without anthropic_version: %s", body)
		}
		if strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			status = s.verifySigV4(r, body)
		} else if s.tokenOK(r) {
			status = http.StatusOK
		}
	case vertexPath.MatchString(r.URL.Path):
		if s.tokenOK(r) {
			status = http.StatusOK
		}
	default:
		s.problem("unexpected path %s", r.URL.Path)
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		s.refused.Add(1)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"type":"error","error":{"type":"authentication_error","message":"refused (%d)"}}`, status)
		return
	}
	s.ok.Add(1)
	_, _ = io.WriteString(w, messageJSON)
}

func (s *standIn) tokenOK(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return s.apiKeys[k]
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.bearers[tok]
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$`)

// verifySigV4 re-signs the request as received, with the secret of the
// access key it names and the SHA-256 of the body that arrived, using
// aws-sdk-go-v2's signer, and compares the signatures: 200 when they match
// and the key is accepted, 403 otherwise (as AWS answers).
func (s *standIn) verifySigV4(r *http.Request, body []byte) int {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		s.problem("bedrock: malformed SigV4 Authorization %q", r.Header.Get("Authorization"))
		return http.StatusForbidden
	}
	id, region, service, signed, sig := m[1], m[3], m[4], m[5], m[6]
	s.mu.Lock()
	secret, ok := s.awsKeys[id]
	session := s.session
	s.mu.Unlock()
	if !ok {
		return http.StatusForbidden // a key AWS no longer accepts: not a protocol violation
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		s.problem("bedrock: X-Amz-Date %q", r.Header.Get("X-Amz-Date"))
		return http.StatusForbidden
	}
	check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	check.ContentLength = r.ContentLength
	for _, name := range strings.Split(signed, ";") {
		switch name {
		case "host", "content-length", "x-amz-date", "x-amz-security-token":
			continue // the signer sets these itself
		}
		check.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
	}
	hash := sha256.Sum256(body)
	creds := sdkaws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: session}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(hash[:]), service, region, at); err != nil {
		s.problem("bedrock: re-signing: %v", err)
		return http.StatusForbidden
	}
	want := authRE.FindStringSubmatch(check.Header.Get("Authorization"))
	if want == nil || want[5] != signed || want[6] != sig || service != "bedrock" {
		s.problem("bedrock: signature mismatch: got %s/%s %s, want %s (body %d bytes)", service, signed, sig, check.Header.Get("Authorization"), len(body))
		return http.StatusForbidden
	}
	return http.StatusOK
}
