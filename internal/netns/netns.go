// Package netns makes throwaway Linux network namespaces for tundra's demo,
// root tests and benchmarks, so that a TUN device and all the traffic to it
// stay inside a namespace with no route out (the project's network rule:
// addresses from 198.18.0.0/15 only, nothing leaves).
//
// It drives iproute2's `ip` command for setup, and setns(2) on a locked OS
// thread to open a TUN device from inside the namespace while the rest of
// the process stays where it was.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// NS is a network namespace this process created.
type NS struct {
	Name       string
	deleteOnce sync.Once
}

// Available reports why namespaces cannot be made here, or nil if they can:
// it needs root and iproute2's `ip`.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces and TUN devices)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs iproute2's `ip` command (apt-get install iproute2)")
	}
	return nil
}

// Create makes a new, empty namespace called name with its loopback up.
// The namespace has no interfaces but lo, and so no route anywhere.
func Create(name string) (*NS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	ns := &NS{Name: name}
	if _, err := ns.Run("ip", "link", "set", "lo", "up"); err != nil {
		ns.Delete()
		return nil, err
	}
	return ns, nil
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output;
// a failure's error includes that output.
func (ns *NS) Run(name string, args ...string) ([]byte, error) {
	out, err := ns.Command(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s (in netns %s): %v: %s", name, strings.Join(args, " "), ns.Name, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// AddTUN creates a TUN device called dev inside the namespace, gives its
// kernel side the address kernelAddr (a prefix such as 198.18.0.1/24), sets
// its MTU and brings it up. The stack attaches to it with OpenTUN.
func (ns *NS) AddTUN(dev, kernelAddr string, mtu int) error {
	steps := [][]string{
		{"ip", "tuntap", "add", "dev", dev, "mode", "tun"},
		{"ip", "link", "set", dev, "mtu", fmt.Sprint(mtu)},
		{"ip", "addr", "add", kernelAddr, "dev", dev},
		{"ip", "link", "set", dev, "up"},
	}
	for _, s := range steps {
		if _, err := ns.Run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// Do runs f on an OS thread that has entered the namespace, then returns
// the thread to the namespace it came from. File descriptors f opens (a
// TUN, a socket) stay bound to the namespace after Do returns.
func (ns *NS) Do(f func() error) error { return DoIn("/var/run/netns/"+ns.Name, f) }

// DoIn runs f on a locked OS thread moved into the network namespace at
// path (a /var/run/netns entry) and returns f's error. It runs on a
// goroutine of its own, so that if the thread cannot be moved back it
// stays locked and the runtime destroys it with that goroutine, rather
// than leaving a caller's thread in the wrong namespace. Only f's own
// thread is inside: goroutines f starts are not.
func DoIn(path string, f func() error) error {
	result := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			result <- fmt.Errorf("netns: save current namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			result <- fmt.Errorf("netns: open %s: %w", path, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			result <- fmt.Errorf("netns: enter %s: %w", path, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine.
			result <- errors.Join(ferr, fmt.Errorf("netns: leave %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		result <- ferr
	}()
	return <-result
}

// Delete removes the namespace and everything in it. It is safe to call
// more than once.
func (ns *NS) Delete() {
	ns.deleteOnce.Do(func() {
		exec.Command("ip", "netns", "delete", ns.Name).Run()
	})
}
