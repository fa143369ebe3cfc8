// Command tundra runs the tundra userspace TCP/IP stack.
//
//	tundra demo                           bring the stack up on a TUN in a namespace of its own and show it working (root)
//	tundra serve -tun NAME -addr A -mtu M serve the benchmark services on an existing TUN device
//	tundra sim [-loss P -delay D ...]     two stacks over an impaired link on a virtual clock, with plots
//	tundra packetdrill SCRIPT...          run packetdrill scripts against the stack, in memory
//
// Run `tundra help` for the full list.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand of tundra.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{summary, run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tundra COMMAND [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `tundra COMMAND -h` for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tundra: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}
