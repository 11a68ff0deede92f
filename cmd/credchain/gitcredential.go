package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credchain/credchain/resolver"
)

// gitUsername is the username credchain answers when git sent none: servers
// that take a token as the password (GitHub, GitLab, Gitea, Bitbucket)
// ignore the username or accept any.
const gitUsername = "credchain"

// maxGitInput bounds what git-credential reads from git: the protocol's
// requests are a few short lines.
const maxGitInput = 64 << 10

func newGitCredentialCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "git-credential get|store|erase",
		Short: "Answer git's credential-helper protocol for the hosts in git.hosts",
		Long: `Answer git's credential-helper protocol on stdin/stdout, with the resolved
token as the password, for the hosts listed in the setting git.hosts
($CREDCHAIN_GIT_HOSTS, comma-separated; a host is matched with its port, as
git sends it: "git.example.com" or "127.0.0.1:8080"). Other hosts get no
answer, so git asks the next helper.

  git config --global credential.https://git.example.com.helper '!credchain git-credential'

get     answers username and password (and password_expiry_utc for an
        expiring token). Only https URLs, and http to a loopback host, are
        answered: a token is never sent in clear over the network.
store   does nothing: credchain keeps its own cache.
erase   tells credchain the server refused the password: if it is the
        credential credchain holds now, credchain refreshes it (and stores
        the new one for persistent sources), so the next get returns a new
        token.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains([]string{"get", "store", "erase"}, args[0]) {
				return usageErrorf("git-credential needs one operation: get, store or erase (git runs it as \"credchain git-credential get\")")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGitCredential(cmd.Context(), a, cmd, args[0])
		},
	}
}

// readGitRequest reads git's key=value lines up to a blank line or EOF.
// Keys that may repeat (wwwauth[], capability[]) keep their last value;
// credchain does not use them.
func readGitRequest(r io.Reader) (map[string]string, error) {
	req := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxGitInput))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			// Not quoted: the line may hold a password.
			return nil, fmt.Errorf("git-credential: request line %d (%d bytes) is not key=value (git's credential protocol)", n, len(line))
		}
		req[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("git-credential: reading the request: %w", err)
	}
	return req, nil
}

// gitHostAllowed reports whether host (as git sends it, with its port) is
// in hosts, and the protocol is one credchain sends a token over.
func gitHostAllowed(hosts []string, protocol, host string) bool {
	if host == "" || !slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), host) }) {
		return false
	}
	switch protocol {
	case "https":
		return true
	case "http":
		return isLoopbackHost(host)
	}
	return false
}

func isLoopbackHost(hostport string) bool {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

func runGitCredential(ctx context.Context, a *App, cmd *cobra.Command, op string) error {
	req, err := readGitRequest(a.In)
	if err != nil {
		return err
	}
	if op == "store" {
		return nil
	}
	s, err := a.Settings(cmd)
	if err != nil {
		return err
	}
	if !gitHostAllowed(s.Git.Hosts, req["protocol"], req["host"]) {
		// Not ours: no answer, and git asks its next helper or the user.
		return nil
	}
	r, cred, err := resolveToken(ctx, a, cmd, "git-credential", "a git password")
	if err != nil {
		return err
	}
	defer r.Close()
	if op == "erase" {
		return gitErase(ctx, r, cred, req["password"])
	}
	username := req["username"]
	if username == "" {
		username = gitUsername
	}
	var b strings.Builder
	b.WriteString("username=" + username + "\n")
	b.WriteString("password=" + cred.Token.Reveal() + "\n")
	if t := renewAt(cred); !t.IsZero() {
		b.WriteString("password_expiry_utc=" + strconv.FormatInt(t.Unix(), 10) + "\n")
	}
	_, err = io.WriteString(a.Out, b.String())
	return err
}

// gitErase reports the refused password to the resolver. Only the
// credential credchain holds now is invalidated: when git erases an older
// password (another process has refreshed since), the current one stays.
// Invalidate refreshes and, for a persistent source, writes the new
// credential to the shared store under its lock, so the next credchain
// process (git's next get) reads it instead of the refused one.
func gitErase(ctx context.Context, r *resolver.Resolver, cred *resolver.Credential, password string) error {
	if password == "" || !cred.Token.Equal(resolver.NewSecret(password)) {
		return nil
	}
	if _, err := r.Invalidate(ctx, cred); err != nil {
		return fmt.Errorf("git-credential: erase: refreshing the refused credential of %s: %w", cred.Source, err)
	}
	return nil
}
