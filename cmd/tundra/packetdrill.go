package main

import (
	"io"

	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/packetdrill/stacktarget"
)

func init() {
	register("packetdrill", "run packetdrill scripts against tundra's TCP, in memory on a virtual clock", runPacketdrill)
}

// runPacketdrill prints one line per script (PASS path, or FAIL path:
// reason) and closes with "N passed, M failed".
func runPacketdrill(args []string, stdout, stderr io.Writer) int {
	return packetdrill.CLI{NewTarget: stacktarget.New}.Main(args, stdout)
}
