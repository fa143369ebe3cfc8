//go:build linux

// Package netnstest gives root tests a private network namespace with a TUN
// device in it, so that the stack can talk to the real Linux kernel without
// touching the machine's own network.
//
// Every test that opens a TUN must follow tundra's network rule: the device
// lives in a namespace the test creates and deletes itself, carries
// addresses from 198.18.0.0/15 (the benchmarking range of RFC 2544, never
// routed on the Internet), and the namespace has no route out. New creates
// such a namespace (named tundra-test-<random>, with only its loopback
// up) and deletes it when the test ends; OpenTUN opens a TUN inside it and
// gives the kernel side KernelAddr/24, leaving StackAddr for the stack.
// Without root, or without the ip command, New skips the test with a message
// that says so.
//
// A TUN must be created from a thread that is inside the namespace, and so
// must sockets meant to live there: Do runs a function on a locked OS thread
// moved into the namespace and moves the thread back afterwards. Sockets and
// devices created inside stay in the namespace after Do returns and can be
// used from any goroutine. Commands (ping, curl, sysctl) run inside through
// Command and Run, which use "ip netns exec".
//
// A typical root test:
//
//	func TestPingStack(t *testing.T) {
//		ns := netnstest.New(t)              // skips without root
//		ep := ns.OpenTUN("", tun.Options{}) // kernel side 198.18.0.1/24, up
//		// ... run the stack on ep, answering for netnstest.StackAddr ...
//		ns.Run("ping", "-c", "1", "-W", "1", netnstest.StackAddr)
//	}
package netnstest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tundra-net/tundra/internal/netns"
	"github.com/tundra-net/tundra/link/tun"
)

// The addresses of a namespace made by New. The kernel side of the TUN has
// KernelAddr/PrefixLen; the stack under test answers for StackAddr. Both are
// in 198.18.0.0/15 (RFC 2544), and the namespace has no default route, so
// nothing can leave it.
const (
	KernelAddr = "198.18.0.1"
	StackAddr  = "198.18.0.2"
	PrefixLen  = 24
)

// DefaultTUNName is the device name OpenTUN uses when given "". Each
// namespace has its own set of interface names, so it never collides with
// another test's device.
const DefaultTUNName = "tundra0"

// NS is a network namespace that lives as long as the test that made it.
type NS struct {
	// Name is the namespace's name, as ip netns list shows it.
	Name string
	t    testing.TB
}

// New creates a fresh network namespace for t and arranges for it to be
// deleted (with every device in it) when t ends. It skips t if the process
// is not root, if the ip command is missing or if /dev/net/tun does not
// exist.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netnstest: needs root to create a network namespace and a TUN device (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netnstest: the ip command (iproute2) is not installed")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("netnstest: no TUN support: %v", err)
	}
	ns := &NS{Name: fmt.Sprintf("tundra-test-%08x", rand.Uint32()), t: t}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("netnstest: ip netns delete %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

// Path returns the namespace's file, for unix.Setns or nsenter.
func (ns *NS) Path() string { return filepath.Join("/var/run/netns", ns.Name) }

// Command returns a command that runs name with args inside the namespace
// (through "ip netns exec"), for a test that wants to start it in the
// background or check its failure itself.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output;
// it fails the test if the command fails.
func (ns *NS) Run(name string, args ...string) string {
	ns.t.Helper()
	out, err := ns.Command(name, args...).CombinedOutput()
	if err != nil {
		ns.t.Fatalf("netnstest: in %s: %s %q: %v: %s", ns.Name, name, args, err, bytes.TrimSpace(out))
	}
	return string(out)
}

// Do calls f on an OS thread that has entered the namespace, and returns
// f's error. Sockets and TUN devices that f opens belong to the namespace
// and stay usable after Do returns. f must not rely on goroutines it starts
// being inside the namespace: only its own thread is. If the thread cannot
// be moved back to its original namespace it is left locked, so the Go
// runtime destroys it instead of reusing it.
func (ns *NS) Do(f func() error) error { return netns.DoIn(ns.Path(), f) }

// OpenTUN opens a TUN device called name (DefaultTUNName if empty) inside
// the namespace with tun.Open, then configures its kernel side: IPv6 off
// (the stack speaks IPv4 only, and router solicitations would only be
// noise), address KernelAddr/PrefixLen, link up. The endpoint is closed when
// the test ends.
func (ns *NS) OpenTUN(name string, opts tun.Options) *tun.Endpoint {
	ns.t.Helper()
	if name == "" {
		name = DefaultTUNName
	}
	var ep *tun.Endpoint
	err := ns.Do(func() error {
		var err error
		ep, err = tun.Open(name, opts)
		return err
	})
	if err != nil {
		ns.t.Fatalf("netnstest: open TUN %s in %s: %v", name, ns.Name, err)
	}
	ns.t.Cleanup(func() { ep.Close() })
	ns.ConfigureTUN(ep.Name())
	return ep
}

// ConfigureTUN gives an interface already in the namespace the kernel-side
// setup OpenTUN applies: IPv6 off, KernelAddr/PrefixLen, link up. Use it for
// a device opened some other way, for example tun.OpenWater inside Do.
func (ns *NS) ConfigureTUN(name string) {
	ns.t.Helper()
	err := ns.Do(func() error {
		// /proc/sys/net shows the namespace of the thread that opens it.
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // no IPv6 in this kernel: nothing to turn off
		ns.t.Fatalf("netnstest: disable IPv6 on %s: %v", name, err)
	}
	ns.Run("ip", "addr", "add", fmt.Sprintf("%s/%d", KernelAddr, PrefixLen), "dev", name)
	ns.Run("ip", "link", "set", name, "up")
}
