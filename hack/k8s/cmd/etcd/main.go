// Command etcd runs the etcd server that the pinned Kubernetes release uses.
// go.etcd.io/etcd/server/v3 ships the server as the etcdmain package but no
// main package of its own, so this is the smallest possible entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
