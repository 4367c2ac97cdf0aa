package pool

import "github.com/hdscale/hdscale/internal/pool/pooltest"

const gi = int64(1) << 30

// Short names for the fixtures of internal/pool/pooltest.
var (
	poolNode    = pooltest.Node
	daemonSet   = pooltest.DaemonSet
	tolerateAll = pooltest.TolerateAll
	cordoned    = pooltest.Cordoned
	notReady    = pooltest.NotReady
	deleting    = pooltest.Deleting
	tainted     = pooltest.Tainted
	withLabel   = pooltest.WithLabel
	memory      = pooltest.Memory
)
