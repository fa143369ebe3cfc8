package udp_test

import (
	"fmt"

	"github.com/tundra-net/tundra/udp"
)

// Build a datagram in place: write the data after room for the header,
// then let Encode fill in the header and checksum. Parse reads it back.
func Example() {
	src, dst := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
	b := make([]byte, udp.HeaderLen+5)
	copy(b[udp.HeaderLen:], "hello")
	udp.HeaderFields{SourcePort: 40000, DestinationPort: 7}.Encode(b, src, dst)

	h, err := udp.Parse(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(h, h.ChecksumValid(src, dst), string(h.Payload()))
	// Output: UDP 40000 > 7 len 13 true hello
}
