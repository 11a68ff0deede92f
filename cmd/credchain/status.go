package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/credchain/credchain/config"
	"github.com/credchain/credchain/resolver"
)

func newStatusCmd(a *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every source, which one wins, and the store",
		Long: `Show every source of the chain in order: whether it is configured (or why
not), which one is active, its expiry and refresh state, the masked secret
(at most the last 4 characters), the last refresh error, and the store
backend.

--json prints resolver.Status:
  {"active": NAME|null,
   "sources": [{"name","configured","reason","active","kind","secret",
                "state","expires_at","refresh_at","next_retry","last_error",
                "identity","store_key","store_error","meta"}],
   "store": {"backend","info"}, "error"}

Exits 3 when no source is configured and 4 when a login is required, after
printing the status.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, s, err := a.Resolver(ctx, cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			// Resolve first for the typed error (the exit code); Status then
			// reports the same state without fetching again.
			_, rerr := r.Resolve(ctx)
			st := r.Status(ctx)
			if asJSON {
				enc := json.NewEncoder(a.Out)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else if err := writeStatus(a.Out, st, s); err != nil {
				return err
			}
			if rerr != nil {
				if errors.Is(rerr, resolver.ErrNoSource) {
					return &shownError{rerr, "no credential source is configured (see each source's reason)"}
				}
				return rerr
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeStatus prints the human form: one line per source, then the store
// and the settings file.
func writeStatus(w io.Writer, st resolver.Status, s *config.Settings) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tKIND\tSECRET\tEXPIRES\tDETAILS")
	for _, src := range st.Sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", src.Name, sourceState(src), src.Kind, dash(src.Secret),
			expires(src), details(src))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nstore: %s\n", st.Store.Backend)
	for _, k := range slices.Sorted(maps.Keys(st.Store.Info)) {
		fmt.Fprintf(w, "  %s: %s\n", k, st.Store.Info[k])
	}
	if f := s.File(); f != "" {
		fmt.Fprintf(w, "settings: %s\n", f)
	} else {
		fmt.Fprintf(w, "settings: none (defaults, environment and flags)\n")
	}
	return nil
}

func sourceState(s resolver.SourceStatus) string {
	switch {
	case s.Active && s.LastError != "" && s.Secret == "":
		return "failed"
	case s.Active:
		return "active"
	case s.Configured:
		return "configured"
	}
	return "not configured"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func expires(s resolver.SourceStatus) string {
	switch {
	case s.ExpiresAt != nil:
		return s.ExpiresAt.UTC().Format(time.RFC3339)
	case s.Secret != "":
		return "never"
	}
	return "-"
}

func details(s resolver.SourceStatus) string {
	var parts []string
	if s.Reason != "" {
		parts = append(parts, s.Reason)
	}
	if s.State != "" && s.State != "fresh" {
		parts = append(parts, s.State)
	}
	if s.RefreshAt != nil && s.State == "fresh" {
		parts = append(parts, "refresh at "+s.RefreshAt.UTC().Format(time.RFC3339))
	}
	if s.LastError != "" {
		parts = append(parts, "error: "+s.LastError)
	}
	if s.NextRetry != nil {
		parts = append(parts, "retry at "+s.NextRetry.UTC().Format(time.RFC3339))
	}
	if s.StoreError != "" && s.StoreError != s.LastError {
		parts = append(parts, "store error: "+s.StoreError)
	}
	if s.Identity != "" {
		parts = append(parts, "identity: "+s.Identity)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Meta)) {
		parts = append(parts, k+"="+s.Meta[k])
	}
	// One line per source, whatever a source's error message contains.
	return strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
}
