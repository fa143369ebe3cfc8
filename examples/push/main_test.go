package main

import (
	"strings"
	"testing"
	"time"
)

// testConfig is the demonstration sped up: the firewall forgets flows
// after 600 ms, and the last event comes after 1.5 s of quiet.
func testConfig() config {
	return config{
		mode: "push", firewallIdle: 600 * time.Millisecond, poll: 100 * time.Millisecond,
		schedule: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 1600 * time.Millisecond},
		grace:    time.Second,
	}
}

func runConfig(t *testing.T, cfg config) string {
	t.Helper()
	var out strings.Builder
	if err := run(cfg, &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	return out.String()
}

func TestWithoutHeartbeatsTheFirewallEatsTheLastEvent(t *testing.T) {
	out := runConfig(t, testConfig())
	if !strings.Contains(out, "events received: 2 of 3") || strings.Contains(out, "packets the firewall dropped: 0") {
		t.Errorf("the quiet connection survived the firewall")
	}
}

func TestHeartbeatsKeepTheConnection(t *testing.T) {
	cfg := testConfig()
	cfg.heartbeat = 100 * time.Millisecond
	out := runConfig(t, cfg)
	if !strings.Contains(out, "events received: 3 of 3") || !strings.Contains(out, "packets the firewall dropped: 0") {
		t.Errorf("heartbeats did not keep the connection")
	}
}

func TestKeepAliveKeepsTheConnection(t *testing.T) {
	cfg := testConfig()
	cfg.keepAlive = 150 * time.Millisecond
	out := runConfig(t, cfg)
	if !strings.Contains(out, "events received: 3 of 3") || !strings.Contains(out, "(0 heartbeats before it)") {
		t.Errorf("TCP keepalive did not keep the connection")
	}
}

func TestPolling(t *testing.T) {
	cfg := testConfig()
	cfg.mode = "poll"
	out := runConfig(t, cfg)
	if !strings.Contains(out, "events received: 3 of 3 with") {
		t.Errorf("polling missed events")
	}
}

func TestParseFlow(t *testing.T) {
	if _, _, ok := parseFlow([]byte{0x45, 0}); ok {
		t.Errorf("a truncated packet parsed")
	}
}
