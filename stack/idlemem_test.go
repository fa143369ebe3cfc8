package stack

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIdleConnMemory measures what an idle connection costs: n
// connections are dialed from stack A to a discard service on stack B
// (served the contract's way, a goroutine in io.Copy per connection) and
// held open. It reports the live heap and the goroutine stacks per
// connection pair (the dialing TCPConn on A, the accepted one on B and
// B's goroutine), after a GC, as compare.sh's idle_conns workload counts
// RSS per connection. Run it with -benchtime 1x: the runtime sizes new
// goroutine stacks from the average it saw at the last GC, which the
// previous iterations skew.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		a, s := stackPair(b, nil, Options{})
		l, err := s.Listen("tcp", ":9")
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); io.Copy(io.Discard, c) }()
			}
		}()
		heap0, stack0 := liveMemory()
		b.StartTimer()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := a.Dial("tcp", addrB.String()+":9")
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		// Wait until every accepted connection has its goroutine parked in
		// Read.
		for s.ConnectionCount() < n || runtime.NumGoroutine() < n {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		b.StopTimer()
		heap1, stack1 := liveMemory()
		b.ReportMetric(float64(heap1-heap0)/n, "heapB/pair")
		b.ReportMetric(float64(stack1-stack0)/n, "stackB/pair")
		for _, c := range conns {
			c.Close()
		}
		l.Close()
		a.Close()
		s.Close()
	}
}

// liveMemory returns the live heap and the goroutine stacks in use, after
// a full collection.
func liveMemory() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}
