package stacktarget_test

import (
	"fmt"

	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/packetdrill/stacktarget"
)

// Run a script against tundra's stack: a listener accepts a connection
// and the peer's data is acknowledged.
func ExampleNew() {
	script := `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <...>
+0.1 < . 1:1(0) ack 1 win 32792
+0 accept(3, ..., ...) = 4
+0 < P. 1:1001(1000) ack 1 win 32792
* > . 1:1(0) ack 1001 <...>
+0 read(4, ..., 2000) = 1000
`
	s, err := packetdrill.Parse("accept.pkt", script, packetdrill.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(packetdrill.Run(s, packetdrill.RunOptions{NewTarget: stacktarget.New}))
	// Output: <nil>
}
