package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/credchain/credchain/oauthpkce"
	"github.com/credchain/credchain/resolver"
)

func newLoginCmd(a *App) *cobra.Command {
	var noBrowser, device bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in with OAuth in the browser (authorization code + PKCE)",
		Long: `Log in to the OAuth provider of the oauth settings (oauth.issuer, or
oauth.authorize_url and oauth.token_url; oauth.client_id; oauth.scopes) and
store the login; afterwards every credchain command and embedding program
gets a fresh bearer token, refreshed before it expires.

The login uses PKCE with S256 and a loopback redirect to 127.0.0.1 (or, with
oauth.redirect = paste, the provider's own code page). The browser is opened
with $BROWSER (a command that gets the URL as its argument) or the platform's
opener, unless --no-browser; the URL is always printed. A code the browser
shows can be pasted on the terminal ("code" or "code#state") at any time.

With --device (RFC 8628) nothing opens or listens here: credchain prints a
verification URI and a user code to enter on any device with a browser
(a phone, the laptop an SSH session comes from), and polls until the login
is approved. The device login is chosen automatically when no browser can
be opened here (an SSH session or a Linux machine without a display, and no
$BROWSER) and the provider has a device authorization endpoint;
--device=false keeps the browser flow.

login refuses to start when nobody can finish it: --non-interactive, CI set,
or neither a terminal nor $BROWSER (unless --device).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			explicitDevice := cmd.Flags().Changed("device") && device
			if why := a.loginNonInteractive(explicitDevice); why != "" {
				return fmt.Errorf("%w (%s); log in where a browser is available, or give this job a token with CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR or CLAUDE_CODE_OAUTH_TOKEN", oauthpkce.ErrNonInteractive, why)
			}
			r, s, err := a.Resolver(ctx, cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			src, err := oauthSource(r)
			if err != nil {
				return err
			}
			if d, ok := s.Value("oauth.login_timeout").(time.Duration); ok && d > 0 && !cmd.Flags().Changed("timeout") {
				timeout = d
			}
			if !cmd.Flags().Changed("device") {
				device = a.autoDevice(ctx, src)
			}
			spin := a.newSpinner()
			opts := oauthpkce.LoginOptions{Out: a.Err, Paste: a.In, Timeout: timeout, OnWaiting: spin.start, Device: device}
			if device {
				opts.Paste = nil
				if !cmd.Flags().Changed("timeout") {
					opts.Timeout = 0 // the user code's own expiry bounds the wait
				}
			} else if !noBrowser {
				opts.OpenBrowser = a.browserOpener(scrubbedVariables(s))
			}
			cred, err := src.Login(ctx, opts)
			spin.stop()
			if err != nil {
				return err
			}
			if err := r.Store(ctx, cred); err != nil {
				return fmt.Errorf("logged in, but the login could not be stored: %w", err)
			}
			a.printLogin(cred)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "do not open a browser; only print the URL")
	cmd.Flags().BoolVar(&device, "device", false, "log in on another device with a user code (RFC 8628 device grant); default: only when no browser can open here and the provider supports it")
	cmd.Flags().DurationVar(&timeout, "timeout", oauthpkce.DefaultLoginTimeout, "how long to wait for the browser or a pasted code (setting oauth.login_timeout)")
	return cmd
}

// loginNonInteractive says why nobody could finish a login in this run, or
// "" when someone can. A device login asked for explicitly needs no
// terminal input: the person reads the code from the output.
func (a *App) loginNonInteractive(device bool) string {
	switch {
	case a.nonInteractive:
		return "--non-interactive"
	case ciSet(a.Getenv("CI")):
		return "CI is set"
	case !device && !a.StdinTTY && a.Getenv("BROWSER") == "":
		return "no terminal and no $BROWSER"
	}
	return ""
}

// noBrowserHere says why no browser can be opened on this machine, or ""
// when one can: $BROWSER is not set, and this is an SSH session or a
// Linux/BSD machine without a display.
func (a *App) noBrowserHere() string {
	if strings.TrimSpace(a.Getenv("BROWSER")) != "" {
		return ""
	}
	display := a.Getenv("DISPLAY") != "" || a.Getenv("WAYLAND_DISPLAY") != ""
	ssh := a.Getenv("SSH_CONNECTION") != "" || a.Getenv("SSH_TTY") != "" || a.Getenv("SSH_CLIENT") != ""
	switch {
	case ssh && !display:
		return "an SSH session without a display, and no $BROWSER"
	case runtime.GOOS != "darwin" && runtime.GOOS != "windows" && !display:
		return "no display, and no $BROWSER"
	}
	return ""
}

// autoDevice decides, without --device, whether to log in with the device
// grant: only when no browser can open here and the provider has a device
// endpoint. Otherwise the browser flow (with a pasted code) stays.
func (a *App) autoDevice(ctx context.Context, src *oauthpkce.Source) bool {
	why := a.noBrowserHere()
	if why == "" {
		return false
	}
	ok, err := src.DeviceAvailable(ctx)
	if err != nil || !ok {
		return false
	}
	fmt.Fprintf(a.Err, "No browser can be opened here (%s): logging in with a code on another device. Use --device=false for the browser flow.\n", why)
	return true
}

// ciSet reports whether $CI says this is a CI run: set to anything but a
// false value (0, false, no, off).
func ciSet(v string) bool {
	on, ok := resolver.ParseBool(v)
	return v != "" && (on || !ok)
}

// oauthSource finds the oauth source in the chain.
func oauthSource(r *resolver.Resolver) (*oauthpkce.Source, error) {
	for _, s := range r.Sources() {
		if s.Name() == oauthpkce.Name {
			if o, ok := s.(*oauthpkce.Source); ok {
				return o, nil
			}
		}
	}
	return nil, usageErrorf("source %q is not in the chain (setting chain); add it to log in", oauthpkce.Name)
}

// browserOpener returns what opens the login URL: $BROWSER with the URL as
// its argument (as gh and git do), else the platform's opener, in an
// environment without the scrub variables (credchain's own secrets: the
// file store's password, the API-key helper command, the credential
// variables; a browser needs none). It does not wait for the browser to
// exit: many browser commands return only when the window closes.
func (a *App) browserOpener(scrub []string) func(context.Context, string) error {
	return func(_ context.Context, url string) error { return a.openBrowser(url, scrub) }
}

func (a *App) openBrowser(url string, scrub []string) error {
	var argv []string
	if b := strings.TrimSpace(a.Getenv("BROWSER")); b != "" {
		argv = append(strings.Fields(b), url)
	} else {
		switch runtime.GOOS {
		case "darwin":
			argv = []string{"open", url}
		case "windows":
			argv = []string{"rundll32", "url.dll,FileProtocolHandler", url}
		default:
			argv = []string{"xdg-open", url}
		}
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = nil, nil, nil
	c.Env = withoutVariables(a.Environ(), scrub)
	if err := c.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", argv[0], err)
	}
	go func() { _ = c.Wait() }()
	return nil
}

// withoutVariables is base without the variables named in drop.
func withoutVariables(base, drop []string) []string {
	out := make([]string, 0, len(base))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			out = append(out, kv)
		}
	}
	return out
}

// printLogin says who is logged in (from the ID token, unverified: for
// display only) and when the access token expires.
func (a *App) printLogin(cred *resolver.Credential) {
	who := cred.Meta[oauthpkce.MetaEmail]
	if who == "" {
		who = cred.Meta[oauthpkce.MetaSubject]
	}
	if who == "" {
		who = "an unnamed account"
	}
	where := cred.Meta[oauthpkce.MetaIssuer]
	if where == "" {
		where = cred.Meta[oauthpkce.MetaTokenURL]
	}
	fmt.Fprintf(a.Out, "Logged in as %s at %s.\n", who, where)
	if !cred.Expiry.IsZero() {
		fmt.Fprintf(a.Out, "The access token expires at %s (in %s)", cred.Expiry.Local().Format(time.RFC3339), time.Until(cred.Expiry).Round(time.Second))
		if cred.Refresh.IsZero() {
			fmt.Fprintf(a.Out, "; the provider issued no refresh token, so run credchain login again then.\n")
			if why := cred.Meta[oauthpkce.MetaNoRefreshReason]; why != "" {
				fmt.Fprintf(a.Out, "Why there is no refresh token: %s.\n", why)
			}
		} else {
			fmt.Fprintf(a.Out, "; credchain refreshes it before then.\n")
		}
	}
}

// spinner shows the elapsed wait on a terminal's stderr.
type spinner struct {
	w    io.Writer
	on   bool
	once sync.Once
	done chan struct{}
	wg   sync.WaitGroup
}

func (a *App) newSpinner() *spinner {
	s := &spinner{w: a.Err, done: make(chan struct{})}
	if f, ok := a.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.on = true
	}
	return s
}

func (s *spinner) start() {
	if !s.on {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
		began := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(s.w, "\r%c Waiting for the login… %s ", frames[i%len(frames)], time.Since(began).Truncate(time.Second))
			select {
			case <-s.done:
				fmt.Fprint(s.w, "\r\033[K")
				return
			case <-tick.C:
			}
		}
	}()
}

func (s *spinner) stop() {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
}
