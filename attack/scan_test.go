//go:build linux

package attack

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tundra-net/tundra/stack"
)

// scanPorts is the range nmap scans: the contract's services (7, 9, 19,
// 80, 443) and closed ports around them.
const scanPorts = "1-1024"

// servicePorts are the ports listening in scanPorts.
var servicePorts = []int{7, 9, 19, 80, 443}

// nmapPorts runs nmap with args against the stack only, bounded in rate,
// retries and time, and returns the state it reports for each port it
// lists (ports in the "Ignored State" are left out).
func (e *env) nmapPorts(args ...string) (map[int]string, string) {
	e.t.Helper()
	full := append([]string{"-n", "-Pn", "--max-rate", "5000", "--max-retries", "1",
		"--host-timeout", "90s", "-oG", "-"}, args...)
	full = append(full, stackAddr)
	out, err := e.run(2*time.Minute, "nmap", full...)
	if err != nil {
		e.t.Fatal(err)
	}
	states := map[int]string{}
	var ignored string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "Ports: ") {
			continue
		}
		fields := strings.SplitN(line, "Ports: ", 2)[1]
		if i := strings.Index(fields, "\tIgnored State: "); i >= 0 {
			ignored = strings.TrimSpace(fields[i+len("\tIgnored State: "):])
			fields = fields[:i]
		}
		for _, entry := range strings.Split(fields, ", ") {
			parts := strings.Split(strings.TrimSpace(entry), "/")
			if len(parts) < 2 {
				continue
			}
			port, err := strconv.Atoi(parts[0])
			if err != nil {
				continue
			}
			states[port] = parts[1]
		}
	}
	return states, ignored
}

// TestNmapScans runs nmap's SYN, FIN, NULL, Xmas and ACK scans over ports
// 1-1024 of the stack. The SYN scan must find exactly the listening
// services open and every other port closed (a RST, RFC 9293 3.10.7.1).
// The FIN, NULL and Xmas scans carry no SYN, ACK or RST: closed ports must
// answer with a RST, so nmap must call them closed, and listening ports
// must drop them (RFC 9293 3.10.7.2), so nmap must call them
// open|filtered. The ACK scan must find
// every port unfiltered (every ACK to no connection draws a RST). After
// all of them the stack is back to its baseline and serving.
func TestNmapScans(t *testing.T) {
	needTools(t, "nmap")
	e := newEnv(t)

	states, ignored := e.nmapPorts("-sS", "-p", scanPorts)
	var open []int
	for port, s := range states {
		if s == "open" {
			open = append(open, port)
		} else if s != "closed" {
			t.Errorf("SYN scan: port %d %s", port, s)
		}
	}
	sort.Ints(open)
	if fmt.Sprint(open) != fmt.Sprint(servicePorts) {
		t.Errorf("SYN scan: open %v, want %v", open, servicePorts)
	}
	if !strings.HasPrefix(ignored, "closed") {
		t.Errorf("SYN scan: the other ports are %q, want closed", ignored)
	}
	t.Logf("SYN scan: open %v, others %s", open, ignored)

	for _, scan := range []struct{ flag, name string }{{"-sF", "FIN"}, {"-sN", "NULL"}, {"-sX", "Xmas"}} {
		states, ignored := e.nmapPorts(scan.flag, "-p", scanPorts)
		if !strings.HasPrefix(ignored, "closed") {
			t.Errorf("%s scan: most ports %q, want closed", scan.name, ignored)
		}
		for port, s := range states {
			if !isService(port) && s != "closed" {
				t.Errorf("%s scan: closed port %d reported %s", scan.name, port, s)
			}
		}
		for _, port := range servicePorts {
			if s := states[port]; s != "open|filtered" {
				t.Errorf("%s scan: listening port %d reported %q, want open|filtered (no answer, RFC 9293 3.10.7.2)", scan.name, port, s)
			}
		}
		t.Logf("%s scan: listening ports open|filtered, others %s", scan.name, ignored)
	}

	states, ignored = e.nmapPorts("-sA", "-p", scanPorts)
	for port, s := range states {
		if s != "unfiltered" {
			t.Errorf("ACK scan: port %d %s", port, s)
		}
	}
	if !strings.HasPrefix(ignored, "unfiltered") {
		t.Errorf("ACK scan: %q, want unfiltered", ignored)
	}
	e.checkRecovered(20 * time.Second)
}

// TestNmapOSDetection runs nmap -O, whose probes are odd on purpose (SYNs
// with unusual options and windows, a NULL and a SYN+FIN+URG+PSH to an
// open port, ACKs and SYNs to a closed one, ICMP echoes with odd codes,
// a UDP probe to a closed port). The stack must survive them, serve, and
// come back to its baseline; what nmap guesses is logged.
func TestNmapOSDetection(t *testing.T) {
	needTools(t, "nmap")
	e := newEnv(t)
	out, err := e.run(2*time.Minute, "nmap", "-n", "-Pn", "-O", "--max-retries", "1", "--host-timeout", "90s",
		"-p", "7,80,443,81", stackAddr)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(OS details|Aggressive OS guesses|No exact OS matches|Running|OS fingerprint not ideal|Too many fingerprints).*$`)
	for _, line := range re.FindAllString(out, -1) {
		t.Logf("nmap -O: %s", line)
	}
	if !strings.Contains(out, "80/tcp") || !strings.Contains(out, "open") {
		t.Errorf("nmap -O did not see port 80 open:\n%s", out)
	}
	e.checkRecovered(20 * time.Second)
}

// isService reports whether port is one of servicePorts.
func isService(port int) bool {
	for _, p := range servicePorts {
		if p == port {
			return true
		}
	}
	return false
}

// synFloodPackets bounds the hping3 flood.
const synFloodPackets = 20000

// TestSYNFlood floods port 80 with synFloodPackets SYNs from hping3
// (--faster, from the kernel's address with changing source ports), with
// the kernel's RSTs to the stack's SYN+ACKs dropped by iptables so that
// each SYN leaves a half-open connection, as a spoofed flood would, while
// real clients keep fetching pages. Every client request must succeed
// (RFC 4987: with SYN cookies at once; with a plain backlog, after the
// half-open entries time out and the client retransmits its SYN), and the
// stack must return to its baseline.
func TestSYNFlood(t *testing.T) {
	needTools(t, "hping3")
	e := newEnv(t)
	if _, err := e.run(10*time.Second, "iptables", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST",
		"--dport", "80", "-m", "multiport", "--sports", "1024:32767", "-j", "DROP"); err != nil {
		t.Skipf("cannot drop the kernel's RSTs with iptables (apt-get install iptables): %v", err)
	}
	before := e.st.Stats()
	floodDone := make(chan error, 1)
	go func() {
		// hping3's source ports start at -s and count up; 1024 + 20000
		// stays inside the RST-dropping range.
		_, err := e.run(2*time.Minute, "hping3", "-S", "-p", "80", "-s", "1024", "-c", strconv.Itoa(synFloodPackets),
			"--faster", "-q", stackAddr)
		floodDone <- err
	}()
	// Real clients, from the ephemeral range (32768 up), during the flood.
	const clients = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	var slowest time.Duration
	client := e.httpClient()
	client.Timeout = 60 * time.Second
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
			start := time.Now()
			resp, err := client.Get("http://" + stackAddr + "/")
			if err == nil {
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
			}
			slowest = max(slowest, time.Since(start))
		}()
	}
	wg.Wait()
	if err := <-floodDone; err != nil {
		// hping3 exits non-zero when no reply reaches it; only a timeout
		// or a failure to start is an error here.
		if strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "executable file not found") {
			t.Fatal(err)
		}
	}
	after := e.st.Stats()
	if link, err := e.run(5*time.Second, "ip", "-s", "link", "show", "tundra0"); err == nil {
		t.Logf("kernel side of the TUN:\n%s", link)
	}
	t.Logf("IP packets received by the stack during the flood: %d", after.IP.InReceives-before.IP.InReceives)
	t.Logf("flood: %d SYNs; %d clients, %d failed, slowest %v; passive opens %d, listen-queue drops %d, peak %d connections",
		synFloodPackets, clients, len(failures), slowest.Round(time.Millisecond),
		after.TCP.PassiveOpens-before.TCP.PassiveOpens,
		after.Drop(stack.DropTCPListenOverflow)-before.Drop(stack.DropTCPListenOverflow), e.st.ConnectionCount())
	if len(failures) > 0 {
		t.Errorf("%d of %d clients failed during the flood: %v", len(failures), clients, failures[0])
	}
	e.checkRecovered(30 * time.Second)
}
