//go:build integration

package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestReleaseScript runs scripts/release.sh for this machine's platform and
// windows/amd64, and checks the archives, SHA256SUMS, the version stamped
// into the binary, and that a second run gives the same archives.
func TestReleaseScript(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("scripts/release.sh needs a Unix shell: run the release on Linux or macOS")
	}
	for _, tool := range []string{"bash", "go", "tar", "gzip", "zip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required by scripts/release.sh and is not installed (apt-get install %s)", tool, tool)
		}
	}
	host := runtime.GOOS + "_" + runtime.GOARCH
	run := func(dist string) map[string]string {
		t.Helper()
		cmd := exec.Command("bash", "../../scripts/release.sh")
		cmd.Env = append(os.Environ(),
			"VERSION=1.2.3-test", "COMMIT=0123abc", "SOURCE_DATE_EPOCH=1700000000",
			"TARGETS="+runtime.GOOS+"/"+runtime.GOARCH+" windows/amd64", "DIST="+dist)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/release.sh: %v\n%s", err, out)
		}
		sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
			sum, name, ok := strings.Cut(line, "  ")
			if !ok {
				t.Fatalf("SHA256SUMS line %q", line)
			}
			data, err := os.ReadFile(filepath.Join(dist, name))
			if err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
				t.Errorf("SHA256SUMS has %s for %s; the file's is %x", sum, name, h)
			}
			got[name] = sum
		}
		return got
	}

	dist := t.TempDir()
	sums := run(dist)
	tgz, zipName := "credchain_1.2.3-test_"+host+".tar.gz", "credchain_1.2.3-test_windows_amd64.zip"
	if names := slices.Sorted(maps.Keys(sums)); !slices.Equal(names, slices.Sorted(slices.Values([]string{tgz, zipName}))) {
		t.Fatalf("SHA256SUMS lists %q; want %q and %q", names, tgz, zipName)
	}

	// The host binary says what it is.
	bin := extractTarGz(t, filepath.Join(dist, tgz), "credchain_1.2.3-test_"+host+"/credchain", t.TempDir())
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("credchain --version: %v\n%s", err, out)
	}
	if want := "credchain version 1.2.3-test\ncommit: 0123abc\nbuilt:  2023-11-14T22:13:20Z\n"; string(out) != want {
		t.Fatalf("credchain --version printed\n%q\nwant\n%q", out, want)
	}

	// The Windows archive is a zip holding credchain.exe, a PE binary.
	zr, err := zip.OpenReader(filepath.Join(dist, zipName))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var exe bool
	for _, f := range zr.File {
		if f.Name == "credchain_1.2.3-test_windows_amd64/credchain.exe" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 2)
			_, err = io.ReadFull(rc, head)
			rc.Close()
			exe = err == nil && string(head) == "MZ"
		}
	}
	if !exe {
		t.Fatalf("%s has no Windows executable credchain.exe", zipName)
	}

	// Same commit, same date: same archives.
	if again := run(t.TempDir()); !maps.Equal(again, sums) {
		t.Errorf("a second release of the same commit differs:\n%v\n%v", sums, again)
	}
}

// extractTarGz writes the member name of the archive to dir and returns its
// path.
func extractTarGz(t *testing.T, archive, name, dir string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s has no %s", archive, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != name {
			continue
		}
		if h.Mode&0o111 == 0 {
			t.Errorf("%s is not executable in the archive (mode %o)", name, h.Mode)
		}
		p := filepath.Join(dir, filepath.Base(name))
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
