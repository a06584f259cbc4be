package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cloudscale/platform/stacks/spec"
)

type validation struct {
	File     string         `json:"file"`
	Stack    string         `json:"stack"`
	Valid    bool           `json:"valid"`
	Problems []spec.Problem `json:"problems,omitempty"`
	Error    string         `json:"error,omitempty"`
}

func newValidateCmd(g *globals) *cobra.Command {
	var stack string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate [--stack NAME] [FILE...]",
		Short: "Load and validate stack configuration, without the Pulumi CLI",
		Long: "Validates stacks/Pulumi.<stack>.yaml for the named stack, for the files given, or for every\n" +
			"stack when neither is given. Every problem is listed with its config key. Exit 0 when all are\n" +
			"valid, 1 when one is not, 2 on a usage error.",
		RunE: func(cmd *cobra.Command, files []string) error {
			if stack != "" && len(files) > 0 {
				return usageErr("give --stack or files, not both")
			}
			if len(files) == 0 {
				var err error
				if files, err = stackFiles(g, stack); err != nil {
					return err
				}
			}
			results, bad := validateFiles(files)
			if err := printValidations(cmd.OutOrStdout(), results, bad, asJSON); err != nil {
				return err
			}
			if bad > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d stack files are invalid", bad, len(results))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stack, "stack", "", "validate only this stack")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// stackFiles are the settings files of the named stack, or of every stack.
func stackFiles(g *globals, stack string) ([]string, error) {
	dir, err := g.stackDir()
	if err != nil {
		return nil, err
	}
	names := []string{stack}
	if stack == "" {
		if names, err = spec.Discover(dir); err != nil {
			return nil, usageErr("%v", err)
		}
	}
	var files []string
	for _, n := range names {
		files = append(files, spec.FilePath(dir, n))
	}
	return files, nil
}

// validateFiles loads each file; it returns the results and how many
// were invalid.
func validateFiles(files []string) ([]validation, int) {
	var results []validation
	bad := 0
	for _, f := range files {
		v := validation{File: f}
		v.Stack, _ = spec.StackName(f)
		_, err := spec.LoadFile(f)
		var se *spec.Error
		switch {
		case err == nil:
			v.Valid = true
		case errors.As(err, &se):
			v.Problems = se.Problems
		default:
			v.Error = err.Error()
		}
		if !v.Valid {
			bad++
		}
		results = append(results, v)
	}
	return results, bad
}

// printValidations writes the results as JSON or as a list with every
// problem and a summary.
func printValidations(out io.Writer, results []validation, bad int, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	var b strings.Builder
	for _, v := range results {
		switch {
		case v.Valid:
			fmt.Fprintf(&b, "ok       %s\n", v.File)
		case v.Error != "":
			fmt.Fprintf(&b, "invalid  %s\n  - %s\n", v.File, v.Error)
		default:
			fmt.Fprintf(&b, "invalid  %s (%d problems)\n", v.File, len(v.Problems))
			for _, p := range v.Problems {
				fmt.Fprintf(&b, "  - %s\n", p)
			}
		}
	}
	fmt.Fprintf(&b, "%d stack files checked: %d valid, %d invalid\n", len(results), len(results)-bad, bad)
	_, err := io.WriteString(out, b.String())
	return err
}
