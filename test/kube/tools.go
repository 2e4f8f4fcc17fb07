//go:build tools

// Package kube pins the control-plane programs the test bed runs, so go.mod/go.sum record exactly
// what build.sh compiles: the Kubernetes components and kubectl from k8s.io/kubernetes, and etcd
// resolved in the same module graph as the apiserver's etcd client.
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
