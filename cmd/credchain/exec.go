package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newExecCmd(a *App) *cobra.Command {
	var serve bool
	cmd := &cobra.Command{
		Use:   "exec [--] COMMAND [ARG...]",
		Short: "Run a command with the credential in its environment",
		Long: `Run COMMAND with the resolved credential in its environment, never in its
arguments: ANTHROPIC_API_KEY for an API key, ANTHROPIC_AUTH_TOKEN for a bearer
token (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
for AWS; GOOGLE_OAUTH_ACCESS_TOKEN and CLOUDSDK_AUTH_ACCESS_TOKEN for Google;
or the variables the provider's SDK reads: ANTHROPIC_FOUNDRY_API_KEY,
ANTHROPIC_AWS_API_KEY, AWS_BEARER_TOKEN_BEDROCK; nothing under
CLAUDE_CODE_SKIP_*_AUTH).
The other credential variables (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN,
CLAUDE_CODE_OAUTH_TOKEN, CLAUDE_CODE_*_FILE_DESCRIPTOR, and every variable a
source declares secret, also renamed ones) are removed, so the command sees
exactly one credential; so are credchain's own secrets
(CREDCHAIN_FILE_PASSWORD, CREDCHAIN_API_KEY_HELPER).

Standard input, output and error are the command's. SIGINT, SIGTERM and
SIGHUP sent to credchain are passed on to it. credchain exits with the
command's exit status, 128+N if it was killed by signal N, 127 if it was not
found.

With --serve (kind aws only) no keys are put in the environment: credchain
serves them on a loopback AWS container-credentials endpoint
(AWS_CONTAINER_CREDENTIALS_FULL_URI, with a random
AWS_CONTAINER_AUTHORIZATION_TOKEN for this run) and keeps refreshing them,
so an AWS SDK in a long-running command gets new keys without a restart.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("exec needs a command to run: credchain exec -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), a, cmd, args, serve)
		},
	}
	// Flags after COMMAND are the command's.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVar(&serve, "serve", false, "kind aws: serve refreshed keys on a loopback container-credentials endpoint instead of exporting them")
	return cmd
}

func runExec(ctx context.Context, a *App, cmd *cobra.Command, args []string, serve bool) error {
	var env []string
	if serve {
		srv, senv, err := startCredentialServer(ctx, a, cmd)
		if err != nil {
			return err
		}
		defer srv.Close()
		env = senv
	} else {
		r, s, err := a.Resolver(ctx, cmd)
		if err != nil {
			return err
		}
		cred, err := r.Resolve(ctx)
		_ = r.Close() // nothing is refreshed while the command runs
		if err != nil {
			return err
		}
		if env, err = childEnv(a.Environ(), scrubbedVariables(s), cred, exporterOf(r, cred)); err != nil {
			return err
		}
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return &exitStatus{code: exitNotFound, msg: fmt.Sprintf("exec: %v", err)}
	}
	c := exec.Command(path, args[1:]...)
	c.Args[0] = args[0]
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = a.In, a.Out, a.Err

	// Registered before Start, so a signal that arrives while the command
	// starts is queued and then passed on, not lost.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return &exitStatus{code: 126, msg: fmt.Sprintf("exec: %v", err)}
	}
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case sig := <-sigs:
				_ = c.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = c.Wait()
	close(done)
	<-forwarded
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &exitStatus{code: 128 + int(ws.Signal())}
		}
		return &exitStatus{code: ee.ExitCode()}
	}
	return fmt.Errorf("exec: %s: %w", args[0], err)
}
