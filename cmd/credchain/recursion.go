package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/credchain/credchain/resolver"
)

// resolvingEnv marks the environment of every process a resolving
// credchain starts (helpers, an AWS credential_process, refresh commands):
// "<pid>\t<source>\t<detail>". A credchain that finds it is its own
// credential helper and would start itself again without end, so it stops
// at once and names the loop. credchain exec's command does not inherit it.
const resolvingEnv = "CREDCHAIN_RESOLVING"

// resolvingMarker describes what r is resolving: the first source that
// applies, and what names its configuration (an AWS profile).
func resolvingMarker(r *resolver.Resolver) string {
	name, detail := "", ""
	for _, src := range r.Sources() {
		if p, ok := src.(resolver.Prober); ok && p.Probe() != nil {
			continue
		}
		name = src.Name()
		if d, ok := src.(resolver.Describer); ok {
			desc := d.Describe()
			detail = desc["profile"]
			if detail == "" {
				detail = desc["credentials_file"]
			}
		}
		break
	}
	return strconv.Itoa(os.Getpid()) + "\t" + name + "\t" + detail
}

// recursionMessage explains a marker found at start-up.
func recursionMessage(marker string) string {
	f := strings.SplitN(marker, "\t", 3)
	for len(f) < 3 {
		f = append(f, "")
	}
	pid, source, detail := f[0], f[1], f[2]
	var loop string
	switch source {
	case "bedrock":
		profile := detail
		if profile == "" {
			profile = "default"
		}
		loop = fmt.Sprintf("AWS profile %s runs credchain as its credential_process (or aws.credential_export / awsAuthRefresh runs credchain)", profile)
	case "vertex":
		loop = "the Google credentials or gcp.auth_refresh run credchain"
	case "api-key-helper":
		loop = "apiKeyHelper runs credchain"
	case "":
		loop = "a command credchain runs runs credchain"
	default:
		loop = fmt.Sprintf("a command of source %s runs credchain", source)
	}
	return fmt.Sprintf("refusing to run inside credchain (pid %s), which is resolving %s: %s, which would start credchain again without end; "+
		"point that setting at the real credential command", pid, or(source, "a credential"), loop)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// withoutVariable returns env without name.
func withoutVariable(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
