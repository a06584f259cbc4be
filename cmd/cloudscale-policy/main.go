// Command cloudscale-policy is the policy gate as a Pulumi analyzer plugin:
//
//	pulumi preview --policy-pack $(which cloudscale-policy)
//
// The Pulumi CLI launches it, reads the port it prints, and asks it to
// analyze every resource and the stack.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"

	"github.com/cloudscale/platform/policies/analyzer"
)

func main() {
	srv, err := analyzer.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudscale-policy:", err)
		os.Exit(1)
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterAnalyzerServer(s, srv)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudscale-policy:", err)
		os.Exit(1)
	}
	fmt.Println(handle.Port) // the engine reads the port from the first line
	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, "cloudscale-policy:", err)
		os.Exit(1)
	}
}
