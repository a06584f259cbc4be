package testserver

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Mongo is a MongoDB wire-protocol server: FerretDB v1.24.2 embedded in
// the test process with its SQLite handler (one SQLite file per database
// under Dir), listening on 127.0.0.1. It speaks enough of MongoDB for
// CRUD, indexes and most aggregation, but not text search, transactions
// or change streams (see the package documentation for the measured
// list).
type Mongo struct {
	URI     string // mongodb://127.0.0.1:<port>/
	Dir     string // the SQLite files
	LogFile string
}

// MongoDB starts an embedded FerretDB on a free port of 127.0.0.1 with no
// authentication and its data under t.TempDir(), and stops it when the
// test ends. It starts in a few milliseconds.
func MongoDB(t testing.TB) *Mongo {
	t.Helper()
	dir := t.TempDir()
	m := &Mongo{Dir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "ferretdb.log")}
	if err := os.Mkdir(m.Dir, 0o700); err != nil {
		t.Fatalf("testserver: making FerretDB's data directory: %v", err)
	}
	logf, err := os.Create(m.LogFile)
	if err != nil {
		t.Fatalf("testserver: creating FerretDB's log: %v", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + m.Dir + "/",
	})
	if err != nil {
		logf.Close()
		t.Fatalf("testserver: configuring FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Logf("testserver: FerretDB ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Logf("testserver: FerretDB still running 10 s after its cancellation")
		}
		logf.Close()
	})
	// MongoDBURI blocks until the listener is bound.
	uri := make(chan string, 1)
	go func() { uri <- f.MongoDBURI() }()
	select {
	case m.URI = <-uri:
	case err := <-done:
		t.Fatalf("testserver: FerretDB ended before listening (%v)\nlog %s:\n%s", err, m.LogFile, logTail(m.LogFile))
	case <-time.After(startTimeout):
		t.Fatalf("testserver: FerretDB not listening within %s\nlog %s:\n%s", startTimeout, m.LogFile, logTail(m.LogFile))
	}
	return m
}
