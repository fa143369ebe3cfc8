package tcp

import (
	"testing"
	"unsafe"
)

// TestConnFitsItsSizeClass keeps a Conn within the Go allocator's 1408-byte
// size class: every connection, idle ones included, costs one Conn, and
// the next class up is 1536 bytes. A field that does not fit belongs in
// something allocated only when needed (as the out-of-order table is), or
// the fields can be reordered to remove padding (bools next to bools).
func TestConnFitsItsSizeClass(t *testing.T) {
	const sizeClass = 1408
	if n := unsafe.Sizeof(Conn{}); n > sizeClass {
		t.Errorf("tcp.Conn is %d bytes, more than the %d-byte size class", n, sizeClass)
	}
}
