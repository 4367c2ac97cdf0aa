// Package deps pins modules the code base is about to use; removed once they are imported for real.
package deps

import (
	_ "github.com/go-logr/zapr"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.uber.org/zap"
	_ "gomodules.xyz/jsonpatch/v2"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/api/resource"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/kube-scheduler/extender/v1"
	_ "k8s.io/metrics/pkg/client/clientset/versioned"
	_ "sigs.k8s.io/yaml"
)
