package report

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds the browser; the test fails without it, since the HTML
// page is a deliverable and must be seen to render.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is missing: run `make tools` (scripts/tools.sh installs Debian's chromium)")
	return ""
}

// TestBrowserRendersHTML renders the fixture's page in headless Chromium
// and looks for the held, breached and not-run colours in the screenshot.
// With CLOUDSCALE_REPORT_SCREENSHOT set, the PNG is copied there.
func TestBrowserRendersHTML(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	shot := filepath.Join(dir, "report.png")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, "html", Judge(fixture())); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := filepath.Join(dir, "profile")
	cmd := exec.CommandContext(ctx, bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--disable-dev-shm-usage", "--user-data-dir="+profile,
		"--window-size=1280,1000", "--screenshot="+shot, "file://"+page)
	// Chromium also writes caches under XDG directories: keep them in the
	// test's directory, never in $HOME.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v (context: %v)\n%s", err, ctx.Err(), out)
	}
	pf, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1000 {
		t.Errorf("screenshot is %dx%d, want 1280x1000", b.Dx(), b.Dy())
	}

	if dst := os.Getenv("CLOUDSCALE_REPORT_SCREENSHOT"); dst != "" {
		raw, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", dst)
	}

	// A cell is 132x44 pixels: ask for at least a quarter of one, so
	// that a legend swatch or a table badge alone does not count.
	const minPixels = 132 * 44 / 4
	for _, c := range []struct {
		name    string
		r, g, b uint8
	}{
		{"held green", 0x2e, 0x7d, 0x32},
		{"breached red", 0xc6, 0x28, 0x28},
		{"not-run grey", 0x9e, 0x9e, 0x9e},
	} {
		if n := countColor(img, c.r, c.g, c.b, 6); n < minPixels {
			t.Errorf("%s #%02x%02x%02x: %d pixels, want at least %d", c.name, c.r, c.g, c.b, n, minPixels)
		}
	}
}

// countColor counts the pixels within tol of (r, g, b) in every channel.
func countColor(img image.Image, r, g, b uint8, tol int) int {
	near := func(a uint32, want uint8) bool {
		d := int(a>>8) - int(want)
		return d >= -tol && d <= tol
	}
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr, r) && near(pg, g) && near(pb, b) {
				n++
			}
		}
	}
	return n
}
