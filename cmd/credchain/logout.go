package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func newLogoutCmd(a *App) *cobra.Command {
	var source string
	var asJSON, current bool
	cmd := &cobra.Command{
		Use:   "logout [--source NAME] [--current-identity]",
		Short: "Remove what credchain stored",
		Long: `Remove the credentials credchain keeps in its store (a login, cached cloud
credentials), revoking them first where the provider allows; with --source
only that source's records. Records are kept per identity (AWS profile and
role, Google credential file, OAuth issuer and client): logout removes the
records of every identity, or with --current-identity only the one the
current settings name (the others are not revoked, only deleted).
Credentials from the environment, a descriptor or a helper are never
stored, so there is nothing to remove for them.

--json prints {"removed": [NAME...]}; a record of another identity is
"NAME (KEY)".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, s, err := a.Resolver(ctx, cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			var names []string
			if source != "" {
				if !slices.Contains(s.Chain(), source) {
					return usageErrorf("--source %q is not in the chain; use one of %s", source, strings.Join(s.Chain(), ", "))
				}
				names = append(names, source)
			}
			logout := r.LogoutAll
			if current {
				logout = r.Logout
			}
			removed, err := logout(ctx, names...)
			if asJSON {
				if jerr := json.NewEncoder(a.Out).Encode(struct {
					Removed []string `json:"removed"`
				}{append([]string{}, removed...)}); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				for _, name := range removed {
					fmt.Fprintf(a.Out, "removed the stored credential of %s\n", name)
				}
				if len(removed) == 0 && err == nil {
					fmt.Fprintln(a.Out, "nothing was stored")
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "remove only this source's records")
	cmd.Flags().BoolVar(&current, "current-identity", false, "remove only the record of the identity the current settings name")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
