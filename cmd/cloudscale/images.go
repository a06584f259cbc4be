package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/cloudscale/platform/services"
	"github.com/cloudscale/platform/services/image"
)

func newImagesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "images", Short: "The services' OCI images: build offline, lock, push"}
	cmd.AddCommand(newImagesBuildCmd(g))
	return cmd
}

type imagesFlags struct {
	services, platforms []string
	output, push        string
	writeLock           bool
	format, revision    string
}

// lockPath is the lock inside the checkout.
const lockPath = "services/images.json"

func newImagesBuildCmd(g *globals) *cobra.Command {
	f := &imagesFlags{}
	cmd := &cobra.Command{
		Use:   "build [--service NAME]... [--output DIR] [--push PREFIX] [--write-lock] [--format text|json]",
		Short: "Build the services' images offline (no Docker, no base image), reproducibly",
		Long: "Build every service (or those named by --service) to an OCI image index over linux/amd64 and linux/arm64:\n" +
			"a static binary at /usr/local/bin/<name>, user 65532:65532, a CA bundle, /tmp, and no shell.\n" +
			"--output writes an OCI image layout; --write-lock records the digests in " + lockPath + ", which the stack deploys\n" +
			"by digest; --push PREFIX pushes <PREFIX>/<name> by digest and tags it with the service's version,\n" +
			"with the credentials of the Docker config and credential helpers. Exit 0 on success, 1 when a build or push\n" +
			"fails, 2 on a usage error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runImagesBuild(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.services, "service", nil, "build only this service (repeatable; default: every service)")
	fl.StringArrayVar(&f.platforms, "platform", nil, "build only this platform, linux/amd64 or linux/arm64 (repeatable; default: both)")
	fl.StringVar(&f.output, "output", "", "write the images as an OCI image layout in this directory")
	fl.StringVar(&f.push, "push", "", "push to <PREFIX>/<name>: a registry host and path, e.g. ghcr.io/cloudscale or a cloud stack's registry prefix")
	fl.BoolVar(&f.writeLock, "write-lock", false, "write the digests to "+lockPath)
	fl.StringVar(&f.format, "format", "text", "text or json (the summary on stdout)")
	fl.StringVar(&f.revision, "revision", "", "the org.opencontainers.image.revision label (a commit); not with --write-lock")
	return cmd
}

// builtImage is one service's result, as --format json prints it.
type builtImage struct {
	services.Image
	Seconds float64 `json:"seconds"`
	// Pushed is the reference by digest, when pushed.
	Pushed string `json:"pushed,omitempty"`
}

type imagesReport struct {
	Go     string       `json:"go"`
	Images []builtImage `json:"images"`
	// Lock and Layout are the files written, when written.
	Lock   string `json:"lock,omitempty"`
	Layout string `json:"layout,omitempty"`
}

func runImagesBuild(cmd *cobra.Command, g *globals, f *imagesFlags) error {
	opts, todo, err := f.plan()
	if err != nil {
		return err
	}
	root, err := g.project()
	if err != nil {
		return err
	}
	goVersion, err := image.GoVersion(cmd.Context(), opts)
	if err != nil {
		return err
	}
	progress := cmd.ErrOrStderr()
	start := time.Now()
	rep := imagesReport{Go: goVersion}
	named, err := buildImages(cmd, root, f.push, todo, opts, &rep)
	if err != nil {
		return err
	}
	if f.output != "" {
		if err := image.WriteLayout(f.output, named...); err != nil {
			return &exitError{code: 1, err: err}
		}
		rep.Layout = f.output
		fmt.Fprintf(progress, "-- OCI layout: %s\n", f.output)
	}
	if f.writeLock {
		path := filepath.Join(root, lockPath)
		if err := writeLock(path, goVersion, rep.Images); err != nil {
			return err
		}
		rep.Lock = path
		fmt.Fprintf(progress, "-- lock: %s\n", path)
	}
	if err := writeImagesReport(cmd.OutOrStdout(), f.format, rep); err != nil {
		return err
	}
	pushed := ""
	if f.push != "" {
		pushed = ", pushed to " + f.push
	}
	fmt.Fprintf(progress, "-- images: %d built with %s in %.1fs%s\n", len(rep.Images), goVersion, time.Since(start).Seconds(), pushed)
	return nil
}

// plan checks the flags and returns the build options and the services
// to build.
func (f *imagesFlags) plan() (image.Options, []services.Service, error) {
	var opts image.Options
	if f.format != "text" && f.format != "json" {
		return opts, nil, usageErr("--format %q: want text or json", f.format)
	}
	if f.writeLock && (len(f.platforms) > 0 || f.revision != "") {
		return opts, nil, usageErr("--write-lock locks the default images: not with --platform or --revision")
	}
	opts.Revision = f.revision
	for _, p := range f.platforms {
		pl, err := image.ParsePlatform(p)
		if err != nil {
			return opts, nil, usageErr("--platform: %v", err)
		}
		opts.Platforms = append(opts.Platforms, pl)
	}
	if len(f.services) == 0 {
		return opts, services.All, nil
	}
	var todo []services.Service
	for _, n := range f.services {
		s, ok := services.Lookup(n)
		if !ok {
			names := make([]string, 0, len(services.All))
			for _, s := range services.All {
				names = append(names, s.Name)
			}
			return opts, nil, usageErr("--service %q: want one of %s", n, strings.Join(names, ", "))
		}
		todo = append(todo, s)
	}
	return opts, todo, nil
}

// buildImages builds (and, with a prefix, pushes) each service, printing
// its progress, and adds it to rep.
func buildImages(cmd *cobra.Command, root, prefix string, todo []services.Service, opts image.Options, rep *imagesReport) ([]image.Named, error) {
	progress := cmd.ErrOrStderr()
	var named []image.Named
	for _, s := range todo {
		fmt.Fprintf(progress, "building %s ... ", s.Name)
		t0 := time.Now()
		idx, err := image.Build(cmd.Context(), root, s, opts)
		if err != nil {
			fmt.Fprintln(progress, "failed")
			return nil, &exitError{code: 1, err: err}
		}
		entry, err := image.LockEntry(s, idx)
		if err != nil {
			return nil, &exitError{code: 1, err: err}
		}
		b := builtImage{Image: entry, Seconds: time.Since(t0).Seconds()}
		fmt.Fprintf(progress, "%.1fs, %s\n", b.Seconds, b.Digest)
		if prefix != "" {
			if b.Pushed, err = push(cmd, prefix, s, idx); err != nil {
				return nil, err
			}
		}
		rep.Images = append(rep.Images, b)
		named = append(named, image.Named{Service: s, Index: idx})
	}
	return named, nil
}

// push sends one image to registry by digest and tags it with its
// version.
func push(cmd *cobra.Command, registry string, s services.Service, idx v1.ImageIndex) (string, error) {
	repo, err := image.Repository(registry, s)
	if err != nil {
		return "", usageErr("--push: %v", err)
	}
	t0 := time.Now()
	ref, err := image.Push(cmd.Context(), repo, idx, []string{s.Version}, authn.DefaultKeychain)
	if err != nil {
		return "", &exitError{code: 1, err: err}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "pushed %s (tag %s) in %.1fs\n", ref, s.Version, time.Since(t0).Seconds())
	return ref.String(), nil
}

// writeLock writes built into the lock at path. Building a subset updates
// those entries and keeps the others, which is honest only when the rest
// was built by the same Go version.
func writeLock(path, goVersion string, built []builtImage) error {
	lock := services.Lock{Go: goVersion}
	if len(built) < len(services.All) {
		b, err := os.ReadFile(path)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("lock %s: %w", path, err)}
		}
		old, err := services.ParseLock(b)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", path, err)}
		}
		if len(old.Images) > 0 && old.Go != goVersion {
			return usageErr("lock %s was built with %s, this is %s: rebuild every service (no --service)", path, old.Go, goVersion)
		}
		lock = old
		lock.Go = goVersion
	}
	for _, b := range built {
		if i := indexOf(lock.Images, b.Name); i >= 0 {
			lock.Images[i] = b.Image
		} else {
			lock.Images = append(lock.Images, b.Image)
		}
	}
	// The lock lists services in the order of services.All.
	var ordered []services.Image
	for _, s := range services.All {
		if im, ok := lock.Image(s.Name); ok {
			ordered = append(ordered, im)
		}
	}
	lock.Images = ordered
	out, err := lock.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("lock %s: %w", path, err)}
	}
	return nil
}

func indexOf(images []services.Image, name string) int {
	for i, im := range images {
		if im.Name == name {
			return i
		}
	}
	return -1
}

func writeImagesReport(w io.Writer, format string, rep imagesReport) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tDIGEST\tPLATFORMS\tSECONDS")
	for _, b := range rep.Images {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\n", b.Name, b.Version, b.Digest, strings.Join(b.Platforms, ","), b.Seconds)
	}
	return tw.Flush()
}
