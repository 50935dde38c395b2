// Package kube pins k8s.io/kubernetes for the local control plane: kube-apiserver and
// kube-controller-manager are built from it as go.mod tools (see tools/build.sh).
package kube
