// Package testenv holds the hermetic helpers every credchain test shares: a
// controllable clock, an event recorder, a hermetic environment that keeps
// tests on 127.0.0.1, a loopback-only dialer, the Google wire fake, /proc
// readers and a goroutine-safe buffer. It needs Go alone and links no SDK or
// browser driver, so unit tests can use it anywhere; the real components
// (Dex, moto, Chromium, keyring daemons, CLIs) are in internal/itest.
package testenv

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// cloudVariables are inherited variables that could point a test at a real
// cloud or a real credential; Hermetic clears them.
var cloudVariables = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_BEARER_TOKEN_BEDROCK",
	"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT",
	"CLOUDSDK_CONFIG", "CLOUDSDK_AUTH_ACCESS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN",
	"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
	"CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR",
	"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_API_KEY_HELPER_TTL_MS",
	"CREDCHAIN_CONFIG", "BROWSER",
	// The other providers (Foundry, federation, Claude Platform on AWS,
	// Mantle, gateways) and the SDKs they drive.
	"CLAUDE_CODE_USE_FOUNDRY", "CLAUDE_CODE_USE_ANTHROPIC_AWS", "CLAUDE_CODE_USE_MANTLE", "CLAUDE_CODE_USE_GATEWAY",
	"CLAUDE_CODE_SKIP_BEDROCK_AUTH", "CLAUDE_CODE_SKIP_VERTEX_AUTH", "CLAUDE_CODE_SKIP_FOUNDRY_AUTH",
	"CLAUDE_CODE_SKIP_ANTHROPIC_AWS_AUTH", "CLAUDE_CODE_SKIP_MANTLE_AUTH",
	"ANTHROPIC_FOUNDRY_API_KEY", "ANTHROPIC_FOUNDRY_RESOURCE", "ANTHROPIC_FOUNDRY_BASE_URL",
	"ANTHROPIC_AWS_API_KEY", "ANTHROPIC_AWS_WORKSPACE_ID", "ANTHROPIC_AWS_BASE_URL", "ANTHROPIC_BEDROCK_MANTLE_BASE_URL",
	"ANTHROPIC_FEDERATION_RULE_ID", "ANTHROPIC_ORGANIZATION_ID", "ANTHROPIC_SERVICE_ACCOUNT_ID", "ANTHROPIC_WORKSPACE_ID",
	"ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR",
	"ANTHROPIC_SCOPE", "ANTHROPIC_BASE_URL",
	"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
	"AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS", "AZURE_USERNAME",
	"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
}

// Hermetic makes the test process safe to run anywhere: no inherited cloud
// or API credentials, instance metadata off (AWS) or on a dead loopback port
// (Google), no D-Bus session bus (so nothing autolaunches a daemon), and a
// private HOME and XDG directories. It returns the temporary HOME.
// Tests that call it must not call t.Parallel (it uses t.Setenv).
func Hermetic(t testing.TB) string {
	t.Helper()
	for _, v := range cloudVariables {
		t.Setenv(v, "")
		_ = os.Unsetenv(v)
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CREDCHAIN_") {
			t.Setenv(name, "")
			_ = os.Unsetenv(name)
		}
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:"+strconv.Itoa(DeadPort(t)))
	t.Setenv("GCE_METADATA_IP", "127.0.0.1:"+strconv.Itoa(DeadPort(t)))
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	t.Setenv("CI", "true")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home+"/.config")
	t.Setenv("XDG_CACHE_HOME", home+"/.cache")
	t.Setenv("XDG_DATA_HOME", home+"/.local/share")
	t.Setenv("CLOUDSDK_CONFIG", home+"/.config/gcloud")
	return home
}

// DeadPort returns a loopback port nothing listens on (it was free a moment
// ago), for endpoints that must fail fast.
func DeadPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}
