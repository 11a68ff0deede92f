package resolver

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// Signer signs a request with a credential of a kind that is not sent as a
// plain header (AWS SigV4). It is called again for a retried request, so a
// signature is never reused.
type Signer interface {
	Sign(ctx context.Context, req *http.Request, cred *Credential) error
}

// RejectionPolicy decides whether a response means the API refused the
// credential. The default treats 401 as a refusal for every kind, and 403
// too for AWS (an expired or invalid signature).
type RejectionPolicy func(cred *Credential, resp *http.Response) bool

func defaultRejected(cred *Credential, resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	return cred.Kind == KindAWS && resp.StatusCode == http.StatusForbidden
}

// Transport returns an http.RoundTripper that sends every request with the
// resolved credential (x-api-key, Authorization: Bearer, or a Signer's
// signature). When the API refuses the credential it calls Invalidate once —
// concurrent refusals of the same credential share one recovery — and, if a
// different credential comes back and the body can be replayed, retries the
// request once. base nil means http.DefaultTransport.
func (r *Resolver) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{r: r, base: base, rejected: defaultRejected}
}

type transport struct {
	r        *Resolver
	base     http.RoundTripper
	rejected RejectionPolicy
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cred, err := t.r.Resolve(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	out, err := t.authorize(ctx, req, cred)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil || !t.rejected(cred, resp) {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // the body is gone; the caller sees the refusal
	}
	next, ierr := t.r.Invalidate(ctx, cred)
	if ierr != nil || next == nil || next.SameSecret(cred) {
		return resp, nil
	}
	retry, err := t.authorize(ctx, req, next)
	if err != nil {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return t.base.RoundTrip(retry)
}

// authorize clones req (a RoundTripper must not modify its request) with a
// fresh body and the credential applied.
func (t *transport) authorize(ctx context.Context, req *http.Request, cred *Credential) (*http.Request, error) {
	out := req.Clone(ctx)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
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
		return nil, &SourceError{Source: cred.Source, Err: errUnsignable(cred.Kind)}
	}
	if err := signer.Sign(ctx, out, cred); err != nil {
		return nil, &SourceError{Source: cred.Source, Err: err}
	}
	return out, nil
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
