// Command etcd is go.etcd.io/etcd/server/v3's etcd server (the upstream main is in the root module,
// which is not meant to be required); built by tools/build.sh for the local control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
