package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credchain/credchain/config"
)

// dockerNotFound is the docker credential-helper protocol's message for a
// server the helper has no credentials for (docker-credential-helpers'
// credentials.errCredentialsNotFoundMessage). The client matches it.
const dockerNotFound = "credentials not found in native keychain"

// dockerMissingURL is the protocol's message for an empty server URL.
const dockerMissingURL = "no credentials server URL"

// dockerUsername is the username credchain answers: registries that take a
// token as the password accept any username.
const dockerUsername = "credchain"

// maxDockerInput bounds what docker-credential reads from the client.
const maxDockerInput = 64 << 10

// dockerCredentials is the protocol's credentials document.
type dockerCredentials struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

func newDockerCredentialCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "docker-credential get|store|erase|list",
		Short: "Answer docker's credential-helper protocol for the servers in docker.servers",
		Long: `Answer the docker credential-helper protocol for the registries listed in the
setting docker.servers ($CREDCHAIN_DOCKER_SERVERS, comma-separated), with the
resolved token as the secret. Install it as docker-credential-credchain:

  printf '#!/bin/sh\nexec credchain docker-credential "$@"\n' > ~/bin/docker-credential-credchain
  chmod +x ~/bin/docker-credential-credchain
  # ~/.docker/config.json: {"credHelpers": {"registry.example.com": "credchain"}}

get     reads a server URL on stdin, answers {"ServerURL","Username","Secret"};
        for another server it prints "` + dockerNotFound + `"
        and exits 1, as the protocol says.
store   reads {"ServerURL","Username","Secret"} and does nothing: credchain
        keeps its own cache.
erase   reads a server URL; the current credential is refreshed, so the
        next get returns a new one.
list    prints {"<server>": "<username>"} for every configured server.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains([]string{"get", "store", "erase", "list"}, args[0]) {
				return usageErrorf("docker-credential needs one operation: get, store, erase or list")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDockerCredential(cmd.Context(), a, cmd, args[0])
		},
	}
}

// normalizeServer makes a registry address comparable: no scheme, no
// trailing slash, lower case ("https://Registry.test/" = "registry.test").
func normalizeServer(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "https://")
	s = strings.TrimPrefix(s, "http://")
	return strings.TrimRight(s, "/")
}

// dockerServer returns the configured entry matching server, if any.
func dockerServer(servers []string, server string) (string, bool) {
	want := normalizeServer(server)
	for _, s := range servers {
		if want != "" && normalizeServer(s) == want {
			return s, true
		}
	}
	return "", false
}

// dockerProtocolError prints the protocol's message on stdout (where the
// docker client reads it) and exits 1.
func dockerProtocolError(a *App, msg string) error {
	fmt.Fprintln(a.Out, msg)
	return &exitStatus{code: exitError}
}

func runDockerCredential(ctx context.Context, a *App, cmd *cobra.Command, op string) error {
	input, err := io.ReadAll(io.LimitReader(a.In, maxDockerInput))
	if err != nil {
		return fmt.Errorf("docker-credential: reading the request: %w", err)
	}
	s, err := a.Settings(cmd)
	if err != nil {
		return err
	}
	switch op {
	case "list":
		return dockerList(a, s)
	case "store":
		var c dockerCredentials
		if err := json.Unmarshal(input, &c); err != nil {
			return dockerProtocolError(a, "docker-credential: store: the request is not a {\"ServerURL\",\"Username\",\"Secret\"} JSON document")
		}
		if strings.TrimSpace(c.ServerURL) == "" {
			return dockerProtocolError(a, dockerMissingURL)
		}
		return nil
	}
	server := strings.TrimSpace(string(input))
	if server == "" {
		return dockerProtocolError(a, dockerMissingURL)
	}
	if _, ok := dockerServer(s.Docker.Servers, server); !ok {
		return dockerProtocolError(a, dockerNotFound)
	}
	r, cred, err := resolveToken(ctx, a, cmd, "docker-credential", "a registry secret")
	if err != nil {
		return err
	}
	defer r.Close()
	if op == "erase" {
		if _, err := r.Invalidate(ctx, cred); err != nil {
			return fmt.Errorf("docker-credential: erase: refreshing the credential of %s: %w", cred.Source, err)
		}
		return nil
	}
	enc := json.NewEncoder(a.Out)
	enc.SetEscapeHTML(false)
	return enc.Encode(dockerCredentials{ServerURL: server, Username: dockerUsername, Secret: cred.Token.Reveal()})
}

func dockerList(a *App, s *config.Settings) error {
	out := map[string]string{}
	for _, srv := range s.Docker.Servers {
		if srv = strings.TrimSpace(srv); srv != "" {
			out[srv] = dockerUsername
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return errors.New("docker-credential: list: " + err.Error())
	}
	_, err = fmt.Fprintf(a.Out, "%s\n", b)
	return err
}
