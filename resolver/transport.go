package resolver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Signer signs a request with a credential of a kind that is not sent as a
// plain header (AWS SigV4). It is called again for a retried request, so a
// signature is never reused. The request's Body and GetBody read the same
// bytes, from memory, so a Signer may read either.
type Signer interface {
	Sign(ctx context.Context, req *http.Request, cred *Credential) error
}

// RejectionPolicy maps a credential kind to the HTTP statuses that mean the
// API refused a credential of that kind (set it as Config.RejectionPolicy).
// A kind the map does not list keeps the default: 401 for every kind; 403
// too for KindAWS (an expired or invalid signature) and for the credentials
// of a source that declares it (a RejectionDeclarer such as an OAuth login,
// whose provider may answer a revoked access token with 403).
type RejectionPolicy map[Kind][]int

// RejectionDeclarer is implemented by sources whose credentials an API
// refuses with other statuses than the default for their kind. The statuses
// it returns replace that default (include 401) unless
// Config.RejectionPolicy lists the kind.
type RejectionDeclarer interface {
	RejectionStatuses() []int
}

// Rejected reports whether resp means the API refused cred, under
// Config.RejectionPolicy and the defaults described at RejectionPolicy.
func (r *Resolver) Rejected(cred *Credential, resp *http.Response) bool {
	if cred == nil || resp == nil {
		return false
	}
	return slices.Contains(r.rejectionStatuses(cred), resp.StatusCode)
}

func (r *Resolver) rejectionStatuses(cred *Credential) []int {
	if s, ok := r.cfg.RejectionPolicy[cred.Kind]; ok {
		return s
	}
	if e, ok := r.byName[cred.Source]; ok {
		if d, ok := e.src.(RejectionDeclarer); ok {
			return d.RejectionStatuses()
		}
	}
	if cred.Kind == KindAWS {
		return []int{http.StatusUnauthorized, http.StatusForbidden}
	}
	return []int{http.StatusUnauthorized}
}

// CredentialHeaders are the request headers that carry a credential. The
// Transport removes every one of them that the caller set before it applies
// its own credential, so exactly one credential goes out.
var CredentialHeaders = []string{
	"Authorization",
	"X-Api-Key",
	"Api-Key",
	"X-Amz-Date",
	"X-Amz-Security-Token",
	"X-Amz-Content-Sha256",
}

// Transport returns an http.RoundTripper that owns the authentication of
// every request: it removes each header in CredentialHeaders that the caller
// (or an SDK's defaults) set, then applies the resolved credential
// (x-api-key, Authorization: Bearer, or a Signer's signature; nothing for
// KindNone) with its extra Headers.
//
// When a response means the API refused the credential (see Rejected) it
// calls Invalidate — concurrent refusals of the same credential share one
// recovery — and, if a different credential comes back and the request
// body can be replayed (GetBody is set, or there is no body), retries the
// request with it; if the API refuses that one too (it was revoked while
// the request was under way), once more with the next. A body that cannot
// be replayed is not retried, but the credential is still invalidated, so
// the next request gets a new one.
//
// The request's Body is closed on every path, as http.RoundTripper requires.
// Errors that retrying the request cannot fix (nothing configured, login
// required, resolver closed, no Signer for the kind) match ErrPermanent.
// base nil means http.DefaultTransport.
func (r *Resolver) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{r: r, base: base}
}

type transport struct {
	r    *Resolver
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cred, err := t.r.Resolve(ctx)
	if err != nil {
		closeBody(req)
		return nil, markPermanent(err)
	}
	// The first attempt sends the caller's own Body (so the base transport
	// closes it); GetBody is asked only for a retry.
	out, err := t.authorize(ctx, req, req.Body, cred)
	if err != nil {
		closeBody(req)
		return nil, markPermanent(err)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil || !t.r.Rejected(cred, resp) {
		return resp, err
	}
	for range maxRetries {
		next, ierr := t.r.Invalidate(ctx, cred)
		if ierr != nil || next == nil || next.SameSecret(cred) {
			return resp, nil
		}
		var body io.ReadCloser
		switch {
		case req.Body == nil || req.Body == http.NoBody:
		case req.GetBody == nil:
			return resp, nil // the body is gone; the caller sees the refusal
		default:
			if body, err = req.GetBody(); err != nil {
				return resp, nil
			}
		}
		retry, err := t.authorize(ctx, req, body, next)
		if err != nil {
			if body != nil {
				_ = body.Close()
			}
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		resp, err = t.base.RoundTrip(retry)
		if err != nil || !t.r.Rejected(next, resp) {
			return resp, err
		}
		cred = next
	}
	// The last credential tried was refused too: invalidate it, so the
	// next request does not start with it.
	_, _ = t.r.Invalidate(ctx, cred)
	return resp, nil
}

// maxRetries bounds the retries of one request. Each retry uses a
// credential newer than the one just refused; a second is needed only when
// the API revoked the replacement too while the request was under way.
const maxRetries = 2

// authorize clones req (a RoundTripper must not modify its request) with
// body, every credential header removed, and cred applied.
func (t *transport) authorize(ctx context.Context, req *http.Request, body io.ReadCloser, cred *Credential) (*http.Request, error) {
	out := req.Clone(ctx)
	out.Body = body
	removeCredentialHeaders(out.Header)
	applyHeaders(out.Header, cred.Headers)
	if name, value, ok := cred.Header(); ok {
		out.Header.Set(name, value)
		return out, nil
	}
	if cred.Kind == KindNone {
		return out, nil
	}
	signer, ok := t.r.cfg.Signers[cred.Kind]
	if !ok {
		if body != nil {
			_ = body.Close()
		}
		return nil, &SourceError{Source: cred.Source, Err: permanentError{errUnsignable(cred.Kind)}}
	}
	// A signer hashes the body and the wire needs it too: read it once into
	// memory and hand both fresh readers over it. (An SDK's GetBody may
	// rewind and return one shared reader, so calling it twice would leave
	// the wire an empty body.)
	if body != nil && body != http.NoBody {
		data, err := io.ReadAll(body)
		_ = body.Close()
		if err != nil {
			return nil, &SourceError{Source: cred.Source, Err: err}
		}
		out.Body = io.NopCloser(bytes.NewReader(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		out.ContentLength = int64(len(data))
	}
	if err := signer.Sign(ctx, out, cred); err != nil {
		return nil, &SourceError{Source: cred.Source, Err: err}
	}
	return out, nil
}

// removeCredentialHeaders deletes every header in CredentialHeaders, also
// one set directly in the map under a non-canonical spelling.
func removeCredentialHeaders(h http.Header) {
	for k := range h {
		for _, c := range CredentialHeaders {
			if strings.EqualFold(k, c) {
				delete(h, k)
				break
			}
		}
	}
}

// applyHeaders sets a credential's extra headers. anthropic-beta is a
// comma-separated list the caller may already use, so the credential's
// values are added to it, once.
func applyHeaders(h http.Header, extra map[string]string) {
	for name, value := range extra {
		if !strings.EqualFold(name, "anthropic-beta") || h.Get(name) == "" {
			h.Set(name, value)
			continue
		}
		list := h.Values(name)
		have := map[string]bool{}
		for _, v := range list {
			for item := range strings.SplitSeq(v, ",") {
				have[strings.TrimSpace(item)] = true
			}
		}
		for item := range strings.SplitSeq(value, ",") {
			if item = strings.TrimSpace(item); item != "" && !have[item] {
				list = append(list, item)
				have[item] = true
			}
		}
		h.Set(name, strings.Join(list, ","))
	}
}

type errUnsignable Kind

func (e errUnsignable) Error() string {
	return "no signer is registered for credential kind " + string(e)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// Watch returns an http.RoundTripper for a client that authenticates its
// requests itself with one of credchain's adapters (TokenSource in
// resolver/oauth2adapter, the AWS CredentialsProvider in providers/aws, the
// Google TokenProvider in providers/gcp). It sends every request unchanged;
// when a response means the API refused the credential the request carried
// (see Rejected) and that is still the current one, it calls Invalidate, so
// the adapter hands out a new credential on the next request. It does not
// retry: the client signed the request. base nil means
// http.DefaultTransport.
func (r *Resolver) Watch(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &watch{r: r, base: base}
}

type watch struct {
	r    *Resolver
	base http.RoundTripper
}

func (w *watch) RoundTrip(req *http.Request) (*http.Response, error) {
	// Read what the request carried before sending: the base transport
	// owns req from then on.
	hdr := req.Header.Clone()
	resp, err := w.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	e := w.r.winner.Load()
	if e == nil {
		return resp, nil
	}
	s := e.snap.Load()
	if s == nil || s.rejected || !carries(hdr, s.cred) || !w.r.Rejected(s.cred, resp) {
		return resp, nil
	}
	_, _ = w.r.Invalidate(req.Context(), s.cred)
	return resp, nil
}

// carries reports whether headers h carry cred's secret (or, for AWS, a
// signature made with its access key).
func carries(h http.Header, cred *Credential) bool {
	if name, value, ok := cred.Header(); ok {
		return h.Get(name) == value || h.Get("Authorization") == "Bearer "+cred.Token.Reveal()
	}
	if cred.Kind == KindAWS && cred.AWS != nil {
		return strings.Contains(h.Get("Authorization"), "Credential="+cred.AWS.AccessKeyID+"/")
	}
	return false
}

// IsPermanent reports whether retrying cannot fix err (see ErrPermanent).
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, ErrNoSource) ||
		errors.Is(err, ErrLoginRequired) || errors.Is(err, ErrClosed) ||
		errors.Is(err, ErrNotConfigured)
}

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

func markPermanent(err error) error {
	if IsPermanent(err) && !errors.Is(err, ErrPermanent) {
		return permanentError{err}
	}
	return err
}
