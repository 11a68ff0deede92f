//go:build integration

package itest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DexDeviceApprove is the person's part of an RFC 8628 device login at
// Dex, done with Dex's own pages over plain HTTP as a browser would: submit
// userCode on the verification page (verificationURI, Dex's /device), log
// in as u with the password form, and follow Dex to its device callback.
// It returns the final page ("Login Successful for …").
func DexDeviceApprove(ctx context.Context, verificationURI, userCode string, u DexUser) (string, error) {
	base, err := url.Parse(verificationURI)
	if err != nil {
		return "", err
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != base.Host || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	post := func(where string, form url.Values) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, where, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, body, err
	}
	verify := *base
	verify.Path = strings.TrimSuffix(base.Path, "/") + "/auth/verify_code"
	verify.RawQuery = ""
	resp, page, err := post(verify.String(), url.Values{"user_code": {userCode}})
	if err != nil {
		return "", fmt.Errorf("dex device: submitting the user code: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`name="password"`)) {
		return "", fmt.Errorf("dex device: expected the password form after the user code, got HTTP %d at %s: %.300s", resp.StatusCode, resp.Request.URL.Path, page)
	}
	resp, page, err = post(resp.Request.URL.String(), url.Values{"login": {u.Email}, "password": {u.Password}})
	if err != nil {
		return "", fmt.Errorf("dex device: password POST: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dex device: the login ended with HTTP %d at %s: %.300s", resp.StatusCode, resp.Request.URL.Path, page)
	}
	return string(page), nil
}
