package stacktarget_test

import (
	"fmt"

	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/packetdrill/stacktarget"
)

// Run a script written for tundra's own defaults: with the Tundra profile
// the stack is built from tcp.DefaultConfig, so its SYN carries window
// scale 3 and tundra's option layout, not FreeBSD's.
func ExampleNew_tundraProfile() {
	script := `
0         socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0...0.100 connect(3, ..., ...) = 0
0     > S 0:0(0) win 65535 <mss 1460,nop,wscale 3,nop,nop,sackOK,nop,nop,TS val 100 ecr 0>
0.100 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>
0.100 > . 1:1(0) ack 1 win 8191
`
	s, err := packetdrill.Parse("connect.pkt", script, packetdrill.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	profile := packetdrill.Tundra()
	fmt.Println(packetdrill.Run(s, packetdrill.RunOptions{NewTarget: stacktarget.New, Profile: &profile}))
	// Output: <nil>
}
