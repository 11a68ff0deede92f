package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/credchain/credchain/resolver"
)

// The ExecCredential API versions kubectl may ask for.
const (
	execCredentialV1      = "client.authentication.k8s.io/v1"
	execCredentialV1beta1 = "client.authentication.k8s.io/v1beta1"
)

// execCredential is the part of kubectl's ExecCredential credchain reads
// (the request in KUBERNETES_EXEC_INFO) and writes (the answer).
type execCredential struct {
	APIVersion string                `json:"apiVersion"`
	Kind       string                `json:"kind"`
	Status     *execCredentialStatus `json:"status,omitempty"`
}

type execCredentialStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp string `json:"expirationTimestamp,omitempty"`
}

// execCredentialVersion is the API version kubectl asked for in
// KUBERNETES_EXEC_INFO (v1 when the variable is unset, as when the plugin
// is run by hand).
func execCredentialVersion(info string) (string, error) {
	if info == "" {
		return execCredentialV1, nil
	}
	var req execCredential
	if err := json.Unmarshal([]byte(info), &req); err != nil {
		return "", fmt.Errorf("token: KUBERNETES_EXEC_INFO is not an ExecCredential JSON document: %w", err)
	}
	switch req.APIVersion {
	case execCredentialV1, execCredentialV1beta1:
		return req.APIVersion, nil
	case "":
		return execCredentialV1, nil
	}
	return "", fmt.Errorf("token: KUBERNETES_EXEC_INFO asks for ExecCredential %q; credchain answers %s and %s (set apiVersion in the kubeconfig's exec section)", req.APIVersion, execCredentialV1, execCredentialV1beta1)
}

func execCredentialFormat() tokenFormat {
	return tokenFormat{
		name: "exec-credential",
		help: "kubectl ExecCredential (client.authentication.k8s.io/v1 or v1beta1, per KUBERNETES_EXEC_INFO)",
		write: func(w io.Writer, cred *resolver.Credential, fc formatContext) error {
			if cred.Token.IsZero() {
				return fmt.Errorf("token: --format exec-credential needs a token, but source %s gives a credential of kind %s", cred.Source, cred.Kind)
			}
			version, err := execCredentialVersion(fc.Getenv("KUBERNETES_EXEC_INFO"))
			if err != nil {
				return err
			}
			st := &execCredentialStatus{Token: cred.Token.Reveal()}
			if t := renewAt(cred); !t.IsZero() {
				st.ExpirationTimestamp = t.UTC().Format(time.RFC3339)
			}
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			return enc.Encode(execCredential{APIVersion: version, Kind: "ExecCredential", Status: st})
		},
	}
}

// renewAt is when a client that caches the credential (kubectl, an AWS
// SDK, git) should ask credchain again: its expiry, else the time credchain
// itself would re-check it (an API-key helper's TTL), else zero (never).
func renewAt(cred *resolver.Credential) time.Time {
	if !cred.Expiry.IsZero() {
		return cred.Expiry
	}
	return cred.RefreshAt
}
