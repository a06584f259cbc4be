// The CloudScale Pulumi program: `pulumi up -s <stack>` deploys one
// environment stack (see stacks/Pulumi.<stack>.yaml).
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/stacks"
)

func main() { pulumi.Run(stacks.Deploy) }
