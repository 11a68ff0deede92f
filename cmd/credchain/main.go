// The runtime would otherwise keep the cgroup CPU-quota files open from
// start-up on, as descriptors 3 and 4: then CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR=3
// given without a descriptor 3 would read the quota ("-1") as the secret
// instead of failing with "not open".

//go:debug containermaxprocs=0

// Command credchain resolves the credential a model-API client should send
// now, from an ordered chain of sources sharing one keychain-backed cache,
// and hands it to shells, CI jobs and other programs:
//
//	credchain token                 # the secret alone (usable as Claude Code's apiKeyHelper)
//	credchain status [--json]       # every source, which one wins, masked secrets
//	credchain exec -- CMD ARGS...   # CMD with the credential in its environment
//	credchain login                 # browser login with PKCE; stored, refreshed before expiry
//	credchain logout [--source N]   # remove what credchain stored
//	credchain token --format F      # json, header, env, credential-process, exec-credential
//	credchain git-credential OP     # git's credential-helper protocol
//	credchain docker-credential OP  # docker's credential-helper protocol
//	credchain exec --serve -- CMD   # AWS container-credentials endpoint for a long-running CMD
//
// Exit codes: 0 ok, 1 error, 2 usage (bad flags, arguments or settings),
// 3 no credential source is configured, 4 a login is required; credchain
// exec exits with its command's status (128+N when killed by signal N).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	h := &signalExit{cancel: cancel, stderr: os.Stderr, exit: os.Exit}
	go h.watch(sigs)
	a := newApp(os.Stdin, os.Stdout, os.Stderr)
	a.signals = h
	a.markResolving = func(v string) { _ = os.Setenv(resolvingEnv, v) }
	code := h.code(a.Run(ctx, os.Args[1:]))
	cancel()
	os.Exit(code)
}
