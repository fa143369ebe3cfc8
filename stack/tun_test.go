//go:build linux

package stack

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/link/pcap"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
)

// TestKernelPingsOverTUN is the foundation's end-to-end check, against the
// real Linux kernel on the other side of a TUN inside a namespace the test
// makes: the kernel's ping gets every reply, with its payload intact (ping
// itself compares each reply's data with what it sent and reports "wrong
// data byte" otherwise), at the default, a 64-byte, a 1400-byte and a
// 3000-byte (fragmented) payload; the capture written meanwhile reads back with tshark with no
// malformed packets.
func TestKernelPingsOverTUN(t *testing.T) {
	ns := netnstest.New(t)
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("needs ping (apt-get install iputils-ping)")
	}
	ep := ns.OpenTUN("", tun.Options{})
	capturePath := filepath.Join(t.TempDir(), "ping.pcapng")
	f, err := os.Create(capturePath)
	if err != nil {
		t.Fatal(err)
	}
	tee, err := pcap.NewTee(ep, f, pcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tee, Options{Addresses: []netip.Addr{netip.MustParseAddr(netnstest.StackAddr)}})
	if err != nil {
		t.Fatal(err)
	}
	received := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
	// 3000 bytes do not fit the 1500-byte MTU: the request arrives in
	// fragments, is reassembled, and the reply leaves in fragments.
	for _, size := range []string{"56", "64", "1400", "3000"} {
		// -p fills the payload with a pattern, so that a corrupted byte
		// would be seen; -i 0.01 keeps the test short.
		out, err := ns.Command("ping", "-c", "20", "-i", "0.01", "-W", "2", "-s", size, "-p", "a5c3", netnstest.StackAddr).CombinedOutput()
		if err != nil {
			t.Fatalf("ping -s %s: %v\n%s", size, err, out)
		}
		m := received.FindSubmatch(out)
		if m == nil || string(m[1]) != "20" || string(m[2]) != "20" {
			t.Fatalf("ping -s %s: not 20 of 20 replies:\n%s", size, out)
		}
		if bytes.Contains(out, []byte("wrong data")) || bytes.Contains(out, []byte("DUP")) {
			t.Fatalf("ping -s %s: replies damaged or duplicated:\n%s", size, out)
		}
	}
	st := s.Stats()
	if st.ICMP.InEchos != 80 || st.ICMP.OutEchoReps != 80 {
		t.Errorf("ICMP counters: %+v", st.ICMP)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: capture not checked (apt-get install tshark)")
		return
	}
	out, err := exec.Command("tshark", "-n", "-r", capturePath).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "Echo (ping) reply"); n != 80 {
		t.Errorf("tshark sees %d echo replies, want 80", n)
	}
	malformed, err := exec.Command("tshark", "-n", "-r", capturePath, "-Y", "_ws.malformed || _ws.expert.severity >= error").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(filterTsharkNoise(malformed))) != 0 {
		t.Errorf("tshark finds malformed packets: %v\n%s", err, malformed)
	}
}

// filterTsharkNoise drops the warning tshark prints when run as root.
func filterTsharkNoise(out []byte) []byte {
	var keep [][]byte
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.Contains(line, []byte("Running as user")) {
			continue
		}
		keep = append(keep, line)
	}
	return bytes.Join(keep, []byte("\n"))
}

// TestAttachTUNRefusesTheKernelsAddress: the most common setup mistake,
// giving the stack the address the kernel's side of the TUN has, is
// refused with an error that says so; the stack's own address works.
func TestAttachTUNRefusesTheKernelsAddress(t *testing.T) {
	ns := netnstest.New(t)
	ns.Run("ip", "tuntap", "add", "dev", "tun7", "mode", "tun")
	ns.ConfigureTUN("tun7")
	var st *Stack
	err := ns.Do(func() error {
		_, err := AttachTUN("tun7", 0, Options{Addresses: []netip.Addr{netip.MustParseAddr(netnstest.KernelAddr)}})
		if err == nil || !strings.Contains(err.Error(), "kernel's own address") {
			t.Errorf("the kernel's address was accepted: %v", err)
		}
		st, err = AttachTUN("tun7", 0, Options{Addresses: []netip.Addr{netip.MustParseAddr(netnstest.StackAddr)}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
