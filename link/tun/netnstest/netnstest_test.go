//go:build linux

package netnstest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
)

func TestDoEntersAndLeaves(t *testing.T) {
	ns := netnstest.New(t)
	outside, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := ns.Do(func() error {
		var err error
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside == outside {
		t.Fatalf("Do ran in the caller's namespace %s", inside)
	}
	// Many calls, none leaking a thread into the namespace.
	for range 20 {
		ns.Do(func() error { return nil })
		if now, _ := os.Readlink("/proc/thread-self/ns/net"); now != outside {
			t.Fatalf("this goroutine's thread is in %s after Do", now)
		}
	}
}

func TestOpenTUNSetup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		ns := netnstest.New(t)
		name = ns.Name
		ep := ns.OpenTUN("", tun.Options{})
		addrs := ns.Run("ip", "-4", "addr", "show", "dev", ep.Name())
		if !strings.Contains(addrs, netnstest.KernelAddr+"/24") || !strings.Contains(addrs, "UP") {
			t.Fatalf("TUN not configured:\n%s", addrs)
		}
		if strings.Contains(ns.Run("ip", "route", "show"), "default") {
			t.Fatal("the namespace has a default route")
		}
	})
	if name == "" {
		t.Skip("the inner test was skipped")
	}
	// The namespace is gone once its test has ended.
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	if strings.Contains(string(out), name) {
		t.Fatalf("namespace %s survived its test", name)
	}
}
