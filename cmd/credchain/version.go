package main

import (
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Stamped into release builds by scripts/release.sh:
//
//	go build -ldflags "-X main.buildVersion=1.2.3 -X main.buildCommit=<sha> -X main.buildDate=<RFC 3339>"
//
// They are variables only because the linker can set nothing else; nothing
// assigns them at run time.
var (
	buildVersion = ""
	buildCommit  = ""
	buildDate    = ""
)

// buildInfo is what credchain --version shows.
type buildInfo struct {
	Version, Commit, Date string
}

// currentBuild is the stamped version, or for a build without ldflags (go
// install, go run) what the Go toolchain recorded.
func currentBuild() buildInfo {
	return resolveBuild(buildVersion, buildCommit, buildDate, version, debug.ReadBuildInfo)
}

func resolveBuild(v, commit, date string, fallback func() string, read func() (*debug.BuildInfo, bool)) buildInfo {
	if v != "" {
		return buildInfo{Version: v, Commit: commit, Date: date}
	}
	b := buildInfo{Version: "dev"}
	if fv := fallback(); fv != "" && fv != "unknown" && fv != "(devel)" {
		// "v1.2.3" from go install module@v1.2.3, with the revision if known.
		b.Version, _, _ = strings.Cut(fv, " ")
	}
	if bi, ok := read(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			}
		}
	}
	return b
}

// versionTemplate shows the version, then the commit and build date that
// identify exactly what was built.
func versionTemplate(b buildInfo) string {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		// The values are literal text in a text/template.
		return strings.NewReplacer("{{", "{ {", "}}", "} }").Replace(s)
	}
	return "{{.Name}} version {{.Version}}\ncommit: " + unknown(b.Commit) + "\nbuilt:  " + unknown(b.Date) + "\n"
}

// setVersion makes root's --version show currentBuild.
func setVersion(root *cobra.Command) {
	b := currentBuild()
	root.Version = b.Version
	root.SetVersionTemplate(versionTemplate(b))
}
