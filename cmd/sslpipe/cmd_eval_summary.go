package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sslpipe/sslpipe/eval/summary"
)

func init() {
	register(&command{Name: "summary", Summary: "print a demo summary.json as a table (text or --markdown)", Run: runSummaryCmd})
}

// runSummaryCmd prints runs/<name>/summary.json files, which `sslpipe eval
// --summary` (and the audio and text probes) fill in.
func runSummaryCmd(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("summary", env.Stderr)
	md := fs.Bool("markdown", false, "print a Markdown table (for the README)")
	js := fs.Bool("json", false, "print the validated JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("summary: give one or more summary.json files (e.g. runs/demo/summary.json)")
	}
	for i, path := range fs.Args() {
		f, err := summary.Read(path)
		if err != nil {
			return err
		}
		if fs.NArg() > 1 {
			if i > 0 {
				fmt.Fprintln(env.Stdout)
			}
			fmt.Fprintf(env.Stdout, "%s:\n", path)
		}
		switch {
		case *js:
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(f); err != nil {
				return err
			}
		case *md:
			fmt.Fprint(env.Stdout, f.Markdown())
		default:
			fmt.Fprint(env.Stdout, f.Text())
		}
	}
	return nil
}
