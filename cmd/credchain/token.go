package main

import (
	"bytes"
	"strings"

	"github.com/spf13/cobra"
)

func newTokenCmd(a *App) *cobra.Command {
	formats := tokenFormats()
	var names []string
	var help strings.Builder
	for _, f := range formats {
		names = append(names, f.name)
		help.WriteString("\n  " + f.name + strings.Repeat(" ", max(1, 20-len(f.name))) + f.help)
	}
	var format string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the credential to send now",
		Long: `Print the credential of the highest configured source.

With the default text format the output is the secret alone and a newline,
so "credchain token" works as Claude Code's apiKeyHelper:

  { "apiKeyHelper": "credchain token" }

Formats:` + help.String(),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, ok := findFormat(formats, format)
			if !ok {
				return usageErrorf("--format %q is not known; use one of %s", format, strings.Join(names, ", "))
			}
			ctx := cmd.Context()
			r, _, err := a.Resolver(ctx, cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			cred, err := r.Resolve(ctx)
			if err != nil {
				return err
			}
			// Written in one piece, so a failing format prints nothing.
			var buf bytes.Buffer
			if err := f.write(&buf, cred, formatContext{Getenv: a.Getenv, Exporter: exporterOf(r, cred)}); err != nil {
				return err
			}
			_, err = a.Out.Write(buf.Bytes())
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: "+strings.Join(names, ", "))
	return cmd
}
