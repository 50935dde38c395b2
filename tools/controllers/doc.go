// Package kueue pins sigs.k8s.io/kueue for the integration tests: the manager is built from it as a go.mod
// tool (see tools/build.sh), in a module of its own because it needs the k8s.io libraries at v0.35.
package kueue
