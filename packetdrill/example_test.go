package packetdrill

import (
	"fmt"
	"os"
)

// Parse a script and walk its events.
func ExampleParse() {
	script := `--tolerance_usecs=50000
0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0   connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0   > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0.1 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>
+0   > . 1:1(0) ack 1 win 65535
`
	s, err := Parse("connect.pkt", script, ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range s.Events {
		fmt.Printf("line %d at %v: %s\n", ev.Pos.Line, ev.Time, ev.Action)
	}
	// Output:
	// line 2 at 0: socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
	// line 3 at +0: connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
	// line 4 at +0: > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
	// line 5 at +0.1: < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>
	// line 6 at +0: > . 1:1(0) ack 1 win 65535
}

// Parse errors carry the file, line and column.
func ExampleParse_error() {
	_, err := Parse("bad.pkt", "0 < S 0:0(0) win 1 <mss 1460,wscale>\n", ParseOptions{})
	fmt.Println(err)
	// Output:
	// bad.pkt:1:36: expected a window scale shift count, found '>'
}

// Run a script against a stack. newFakeTarget is the tiny TCP of this
// package's tests; a real run passes a factory for the stack under test.
func ExampleRun() {
	script := `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0.1 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>
+0 > . 1:1(0) ack 2 win 65535
`
	s, _ := Parse("connect.pkt", script, ParseOptions{})
	err := Run(s, RunOptions{NewTarget: newFakeTarget})
	fmt.Println(err)
	// Output:
	// connect.pkt:6: > . 1:1(0) ack 2 win 65535: ack: expected 2, got 1: > . 1:1(0) ack 1 win 65535
}

// The command-line front end prints one line per script and a summary.
func ExampleCLI_Main() {
	dir, _ := os.MkdirTemp("", "pd")
	defer os.RemoveAll(dir)
	cwd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(cwd)
	os.WriteFile("listen.pkt", []byte(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 %{ assert tcpi_state == TCPI_LISTEN }%
`), 0o644)
	os.WriteFile("refused.pkt", []byte(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)
`), 0o644)
	cli := CLI{NewTarget: newFakeTarget}
	code := cli.Main([]string{"listen.pkt", "refused.pkt"}, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// PASS listen.pkt
	// FAIL refused.pkt: line 2: connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused): call blocked; the script expects it to return at once (write ...END before the call if it should block)
	// 1 passed, 1 failed
	// exit 1
}
