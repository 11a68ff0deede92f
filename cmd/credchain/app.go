package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source/all"
)

// App is what every command needs from the outside world: the IO streams
// and the environment. Commands take it instead of reaching for os.*, so
// they run in tests without a terminal.
type App struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	Getenv    func(string) string
	LookupEnv func(string) (string, bool)
	// Environ is the environment a child of credchain exec starts from.
	Environ func() []string
	// StdinTTY reports whether In is a terminal (prompts are allowed only then).
	StdinTTY bool
	// Prompt reads a secret from the terminal without echo.
	Prompt func(prompt string) (string, error)

	// signals is the process's signal handling (nil in tests).
	signals *signalExit
	// markResolving, when set, puts the recursion marker into the
	// environment every child started while resolving inherits (a helper,
	// an AWS credential_process); nil in tests, which run in-process.
	markResolving func(string)

	// Global flags.
	configFile     string
	storeBackend   string
	storeDir       string
	nonInteractive bool
}

// newApp is the App of a real process.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *App {
	a := &App{
		In: stdin, Out: stdout, Err: stderr,
		Getenv: os.Getenv, LookupEnv: os.LookupEnv, Environ: os.Environ,
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		a.StdinTTY = true
		fd := int(f.Fd())
		a.Prompt = func(prompt string) (string, error) {
			fmt.Fprint(stderr, prompt)
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(stderr)
			return string(b), err
		}
	}
	return a
}

// Run runs the command line args and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	if v := a.Getenv(resolvingEnv); v != "" {
		fmt.Fprintf(a.Err, "credchain: %s\n", recursionMessage(v))
		return exitError
	}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(a.In)
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if err != nil {
		if msg := errorMessage(err); msg != "" {
			fmt.Fprintf(a.Err, "credchain: %s\n", msg)
		}
		if code == exitUsage {
			fmt.Fprintln(a.Err, "Run 'credchain --help' for usage.")
		}
	}
	return code
}

// Interactive reports whether credchain may prompt: stdin is a terminal,
// CI is not set, and --non-interactive was not given.
func (a *App) Interactive() bool {
	return !a.nonInteractive && a.StdinTTY && !ciSet(a.Getenv("CI"))
}

// Settings loads the settings for cmd: its flags, the environment and the
// settings file.
func (a *App) Settings(cmd *cobra.Command) (*config.Settings, error) {
	return config.Load(config.LoadOptions{
		File:        a.configFile,
		Flags:       cmd.Flags(),
		Getenv:      a.Getenv,
		LookupEnv:   a.LookupEnv,
		Interactive: a.Interactive(),
		Prompt:      a.Prompt,
		Output:      a.Err,
		Sources:     all.Sources(),
	})
}

// Resolver loads the settings and builds a resolver for a one-shot command:
// it never starts a background refresh it could not finish. The caller must
// Close it.
func (a *App) Resolver(ctx context.Context, cmd *cobra.Command) (*resolver.Resolver, *config.Settings, error) {
	s, err := a.Settings(cmd)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := s.Build(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg.NoBackgroundRefresh = true
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	// A signal cancels ctx: stop in-flight fetches (and the helpers they
	// run) at once instead of waiting for them in Close.
	context.AfterFunc(ctx, r.Abort)
	if a.markResolving != nil {
		a.markResolving(resolvingMarker(r))
	}
	return r, s, nil
}

const rootLong = `credchain resolves the credential a model-API client should send now, from an
ordered chain of sources (environment variables, file descriptors, an API-key
helper command, a stored OAuth login, workload identity federation, a gateway
session, AWS for Bedrock, Claude Platform on AWS and Mantle, Azure for Foundry,
Google for Vertex) that share one keychain-backed cache and one refresh
scheduler. "credchain status" lists the chain in order and why each source
does or does not apply.

Settings come from flags, then CREDCHAIN_<SECTION>_<KEY> environment
variables, then the settings file ($XDG_CONFIG_HOME/credchain/config.yaml,
--config or $CREDCHAIN_CONFIG; YAML or JSON; a Claude Code settings.json with
apiKeyHelper works too). See docs/configuration.md.

credchain never prompts when --non-interactive is given, CI is set, or stdin
is not a terminal.

Exit codes:
  0  success
  1  error (a configured source failed, the store failed, ...)
  2  usage: bad flags, arguments or settings
  3  no credential source is configured
  4  a login is required (the stored login can no longer be refreshed)
  credchain exec exits with its command's status (128+N when the command
  was killed by signal N; 127 when it was not found).`

func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

func newRootCmd(a *App) *cobra.Command {
	root := &cobra.Command{
		Use:           "credchain",
		Short:         "Resolve and serve the credential a model-API client should send",
		Long:          rootLong,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Suggest "token" for "tokn".
		SuggestionsMinimumDistance: 2,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageErrorf("%s", msg)
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	setVersion(root) // version, commit and date stamped by scripts/release.sh
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "settings file (YAML or JSON; default $XDG_CONFIG_HOME/credchain/config.yaml, or $CREDCHAIN_CONFIG)")
	pf.StringVar(&a.storeBackend, "store-backend", "", "credential store backend (setting store.backend)")
	pf.StringVar(&a.storeDir, "store-dir", "", "credential store directory (setting store.dir)")
	pf.BoolVar(&a.nonInteractive, "non-interactive", false, "never prompt (also when CI is set or stdin is not a terminal)")
	for flag, key := range map[string]string{"store-backend": "store.backend", "store-dir": "store.dir"} {
		if err := config.BindFlag(pf, flag, key); err != nil {
			panic(err) // a programming error: the setting does not exist
		}
	}

	root.AddCommand(
		newTokenCmd(a),
		newStatusCmd(a),
		newExecCmd(a),
		newLogoutCmd(a),
		newLoginCmd(a),
		newGitCredentialCmd(a),
		newDockerCredentialCmd(a),
	)
	return root
}

// noArgs rejects arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
