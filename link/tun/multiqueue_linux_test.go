//go:build linux

package tun_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tundra-net/tundra/link/tun/netnstest"
)

// BenchmarkMultiQueueRead measures whether IFF_MULTI_QUEUE helps on this
// machine: the kernel sends UDP datagrams from four sockets (four flows,
// which the kernel spreads over a multi-queue TUN's queues by flow hash)
// while one reader per queue drains the device. queues=1 is an ordinary
// device. rx_pkts/s counts datagrams the readers got; the rest were dropped
// by the kernel when a queue was full (txqueuelen 500), which is what a
// slow reader costs. The readers use plain read(2), so the numbers show the
// kernel's sharding, not this package's batching. docs/performance.md has
// the results.
func BenchmarkMultiQueueRead(b *testing.B) {
	for _, queues := range []int{1, 2} {
		b.Run(fmt.Sprintf("queues=%d", queues), func(b *testing.B) { benchmarkMultiQueue(b, queues) })
	}
}

func benchmarkMultiQueue(b *testing.B, queues int) {
	ns := netnstest.New(b)
	var files []*os.File
	err := ns.Do(func() error {
		for range queues {
			fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				return err
			}
			ifr, _ := unix.NewIfreq("mq0")
			flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
			if queues > 1 {
				flags |= unix.IFF_MULTI_QUEUE
			}
			ifr.SetUint16(flags)
			if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
				unix.Close(fd)
				return fmt.Errorf("TUNSETIFF: %w", err)
			}
			files = append(files, os.NewFile(uintptr(fd), "mq0"))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ns.ConfigureTUN("mq0")
	var senders []*net.UDPConn
	err = ns.Do(func() error {
		for range 4 {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(stackAddr, 9)))
			if err != nil {
				return err
			}
			senders = append(senders, c)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}

	var received atomic.Int64
	var readers sync.WaitGroup
	for _, f := range files {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 1500)
			for {
				if _, err := f.Read(buf); err != nil {
					return // closed
				}
				received.Add(1)
			}
		}()
	}
	payload := make([]byte, 1000)
	perSender := b.N/len(senders) + 1
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perSender {
				c.Write(payload) // a full queue drops; that is measured
			}
		}()
	}
	wg.Wait()
	// Let the readers drain what is queued, bounded in time.
	for last, deadline := int64(-1), time.Now().Add(time.Second); time.Now().Before(deadline); {
		n := received.Load()
		if n == last {
			break
		}
		last = n
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := b.Elapsed()
	b.StopTimer()
	for _, f := range files {
		f.Close()
	}
	for _, c := range senders {
		c.Close()
	}
	readers.Wait()
	sent := float64(perSender * len(senders))
	b.ReportMetric(float64(received.Load())/elapsed.Seconds(), "rx_pkts/s")
	b.ReportMetric(100*(sent-float64(received.Load()))/sent, "drop_%")
}
