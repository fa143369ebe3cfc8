package packetdrill

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainReportsEachScript(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a-pass.pkt":  passiveOpen,
		"b-fail.pkt":  strings.Replace(passiveOpen, "ack 1 win 65535 <mss 1460", "ack 1 win 1000 <mss 1460", 1),
		"c-parse.pkt": "0 close(3) =\n",
		"notes.txt":   "not a script",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	code := CLI{NewTarget: newFakeTarget}.Main([]string{dir}, &out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"PASS " + filepath.Join(dir, "a-pass.pkt"),
		"FAIL " + filepath.Join(dir, "b-fail.pkt") + ": line 9: > S. 0:0(0) ack 1 win 1000 <mss 1460,sackOK,eol,eol>: window: expected 1000, got 65535",
		"FAIL " + filepath.Join(dir, "c-parse.pkt") + ": line 2:1: parse error: expected an expression, found end of file",
		"1 passed, 2 failed",
	}
	if code != 1 || len(lines) != len(want) {
		t.Fatalf("exit %d, output:\n%s", code, out.String())
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n got %s\nwant %s...", i, lines[i], want[i])
		}
	}

	out.Reset()
	if code := (CLI{NewTarget: newFakeTarget}).Main([]string{filepath.Join(dir, "a-pass.pkt")}, &out); code != 0 {
		t.Errorf("single passing script: exit %d\n%s", code, out.String())
	}
	if got := out.String(); !strings.HasSuffix(got, "1 passed, 0 failed\n") {
		t.Errorf("summary: %q", got)
	}
}

func TestMainUsage(t *testing.T) {
	var out bytes.Buffer
	if code := (CLI{NewTarget: newFakeTarget}).Main(nil, &out); code != 2 || !strings.Contains(out.String(), "usage:") {
		t.Errorf("no arguments: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := (CLI{}).Main([]string{"x.pkt"}, &out); code != 2 || !strings.Contains(out.String(), "no target") {
		t.Errorf("no target: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := (CLI{NewTarget: newFakeTarget}).Main([]string{"/nonexistent/x.pkt"}, &out); code != 2 {
		t.Errorf("missing file: exit %d, %q", code, out.String())
	}
}

func TestMainVerboseTrace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "open.pkt")
	if err := os.WriteFile(path, []byte(activeOpen), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := (CLI{NewTarget: newFakeTarget}).Main([]string{"-v", path}, &out); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	for _, want := range []string{
		"  0.000000 connect(3, ..., ...) = -1 EINPROGRESS\n",
		"  0.000000 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n",
		"  0.200000 < S. 0:0(0) ack 1 win 32767 <mss 1460,nop,wscale 7,sackOK,TS val 500 ecr 100>\n",
		"  0.200000 > . 1:1(0) ack 1 win 65535\n",
		"PASS " + path + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, out.String())
		}
	}
}

// TestMainProfileFlag: -profile picks the starting profile the target is
// configured with; under the tundra profile a sysctl line is refused
// rather than silently changing nothing; an unknown name is a usage error.
func TestMainProfileFlag(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.pkt")
	sysctl := filepath.Join(dir, "sysctl.pkt")
	if err := os.WriteFile(open, []byte(activeOpen), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sysctl, []byte("0 `sysctl -w net.inet.tcp.recvspace=1000`\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Profile
	factory := func(cfg TargetConfig) (Target, error) {
		tg, err := newFakeTarget(cfg)
		got = append(got, cfg.Profile)
		return tg, err
	}

	var out bytes.Buffer
	CLI{NewTarget: factory}.Main([]string{"-profile", "tundra", open}, &out)
	if len(got) != 1 || got[0].Name != "tundra" || !got[0].StackDefaults || got[0].MTU != 1500 {
		t.Fatalf("-profile tundra: target got %+v\n%s", got, out.String())
	}
	got = nil
	out.Reset()
	if code := (CLI{NewTarget: factory}).Main([]string{"-profile", "freebsd", open}, &out); code != 0 || len(got) != 1 || got[0] != FreeBSD() {
		t.Fatalf("-profile freebsd: exit %d, target got %+v\n%s", code, got, out.String())
	}

	out.Reset()
	if code := (CLI{NewTarget: factory}).Main([]string{"-profile", "tundra", sysctl}, &out); code != 1 ||
		!strings.Contains(out.String(), "unsupported: sysctl net.inet.tcp.recvspace: profile tundra runs the stack with its own defaults") {
		t.Errorf("sysctl under -profile tundra: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := (CLI{NewTarget: factory}).Main([]string{"-profile", "linux", open}, &out); code != 2 || !strings.Contains(out.String(), `unknown profile "linux"`) {
		t.Errorf("unknown profile: exit %d, %q", code, out.String())
	}
}
