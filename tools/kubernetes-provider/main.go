// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider from its Go package. The upstream
// main embeds generated files (schema-embed.json, terraform-mapping-embed.json); tools/build.sh copies
// schema.json and terraform-mapping.json from the provider module in the Go module cache into this
// directory before building (they are git-ignored, see .gitignore here).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
