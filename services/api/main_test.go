package main

import (
	"testing"

	"github.com/cloudscale/platform/services/testserver"
)

// TestMain stops the servers the package's tests share (SharedRabbitMQ).
func TestMain(m *testing.M) { testserver.Main(m) }
