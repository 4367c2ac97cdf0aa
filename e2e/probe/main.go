// Command probe is the e2e suite's in-cluster HTTP client, shipped in the
// fake runtime image (no image can be pulled here, so no curl):
//
//	probe get   -url U,... [-token-file F]  GETs; prints "<url> <status>"
//	                                        per URL ("error" when none)
//	probe flood -url U -kind K -n N -c C    POSTs N bodies of kind K with C
//	                                        connections; prints counts by
//	                                        status (and "error" for
//	                                        transport errors)
//	probe floods "FLAGS;FLAGS;..."          one flood per flag list; prints
//	                                        "<index> <status>=<n>,..." each
//
// TLS certificates are not verified: the suite checks who may read an
// endpoint and how a server copes with bad input, not its identity.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		os.Exit(1)
	}
}
