// Command gen writes docs/tcp-states.dot and docs/tcp-states.svg from
// tcp.Transitions (run by `go generate ./internal/tcpdiagram`), and
// docs/tcp-states.png too when Graphviz's `dot` is installed.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/tundra-net/tundra/internal/tcpdiagram"
	"github.com/tundra-net/tundra/tcp"
)

func main() {
	out := flag.String("out", "docs", "folder to write tcp-states.dot and tcp-states.svg into")
	flag.Parse()
	dot := filepath.Join(*out, tcpdiagram.DOTFile)
	for name, data := range map[string][]byte{
		dot:                                     tcpdiagram.DOT(tcp.Transitions),
		filepath.Join(*out, tcpdiagram.SVGFile): tcpdiagram.SVG(tcp.Transitions),
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "tcpdiagram:", err)
			os.Exit(1)
		}
	}
	if _, err := exec.LookPath("dot"); err == nil {
		png := filepath.Join(*out, "tcp-states.png")
		if b, err := exec.Command("dot", "-Tpng", dot, "-o", png).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "tcpdiagram: dot: %v: %s\n", err, b)
			os.Exit(1)
		}
	}
}
