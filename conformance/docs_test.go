package conformance

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// docFile is the conformance report; its tables are generated between
// "<!-- BEGIN name -->" and "<!-- END name -->" lines, the prose around
// them is written by hand.
const docFile = "../docs/conformance.md"

// The states and segment kinds of the state-event-engine folder names
// (rcv-KIND-STATE), in the order of RFC 9293's state diagram.
var (
	engineStates = []string{"closed", "listen", "syn-sent", "syn-rcvd", "established", "close-wait",
		"last-ack", "fin-wait-1", "fin-wait-2", "closing", "time-wait"}
	engineKinds = []string{"syn", "syn-ack", "syn-fin", "ack", "fin", "fin-ack", "rst", "rst-ack"}
)

// engineCell splits "state-event-engine/rcv-syn-fin-wait-1/x.pkt" into the
// segment kind ("syn") and the state ("fin-wait-1").
func engineCell(script string) (kind, state string, ok bool) {
	parts := strings.Split(script, "/")
	if len(parts) != 3 || parts[0] != "state-event-engine" || !strings.HasPrefix(parts[1], "rcv-") {
		return "", "", false
	}
	name := strings.TrimPrefix(parts[1], "rcv-")
	for _, st := range engineStates {
		if k, found := strings.CutSuffix(name, "-"+st); found {
			return k, st, true
		}
	}
	return "", "", false
}

// tally counts passing scripts out of all.
type tally struct{ pass, all int }

func (t *tally) add(pass bool) {
	t.all++
	if pass {
		t.pass++
	}
}

func percent(t tally) string {
	if t.all == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(t.pass)/float64(t.all))
}

// folderOf is the folder a script is counted in: its first path element,
// and the second one for socket-api (getsockopt, setsockopt).
func folderOf(script string) string {
	parts := strings.Split(script, "/")
	if parts[0] == "socket-api" && len(parts) > 2 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// docSections builds the generated parts of docs/conformance.md from the
// FreeBSD suite's expectations, the reasons and the results of tundra's
// own scripts. It also returns the failing scripts no reason explains.
func docSections(exp map[string]result, rs []*reason, own []ownResult) (map[string]string, []string) {
	sections := map[string]string{}
	var unexplained []string

	// Counts per folder.
	folders := map[string]*tally{}
	total := tally{}
	for script, r := range exp {
		f := folderOf(script)
		if folders[f] == nil {
			folders[f] = &tally{}
		}
		folders[f].add(r.pass)
		total.add(r.pass)
	}
	var b strings.Builder
	b.WriteString("| folder | pass | scripts | |\n|---|---:|---:|---:|\n")
	for _, f := range sortedKeys(folders) {
		t := *folders[f]
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", f, t.pass, t.all, percent(t))
	}
	fmt.Fprintf(&b, "| **all** | **%d** | **%d** | **%s** |\n", total.pass, total.all, percent(total))
	ownPass := 0
	for _, o := range own {
		if o.err == nil {
			ownPass++
		}
	}
	fmt.Fprintf(&b, "\ntundra's own scripts (`conformance/tundra`): %d of %d pass.\n", ownPass, len(own))
	sections["counts"] = b.String()

	// The state-event-engine matrix.
	cells := map[string]*tally{}
	for script, r := range exp {
		kind, state, ok := engineCell(script)
		if !ok {
			continue
		}
		key := kind + " " + state
		if cells[key] == nil {
			cells[key] = &tally{}
		}
		cells[key].add(r.pass)
	}
	b.Reset()
	b.WriteString("| state \\ segment |")
	for _, k := range engineKinds {
		fmt.Fprintf(&b, " %s |", strings.ToUpper(k))
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(engineKinds)) + "\n")
	for _, st := range engineStates {
		fmt.Fprintf(&b, "| %s |", strings.ToUpper(st))
		for _, k := range engineKinds {
			if t := cells[k+" "+st]; t != nil {
				fmt.Fprintf(&b, " %d/%d |", t.pass, t.all)
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	sections["engine"] = b.String()

	// Every failure under its reason.
	type group struct {
		r       *reason
		scripts []string
		firsts  []string
	}
	var groups []*group
	byReason := map[*reason]*group{}
	kindCount := map[reasonKind]int{}
	addFailure := func(script, first string) {
		r := reasonFor(rs, script, first)
		if r == nil {
			unexplained = append(unexplained, script+": "+first)
			return
		}
		g := byReason[r]
		if g == nil {
			g = &group{r: r}
			byReason[r] = g
			groups = append(groups, g)
		}
		g.scripts = append(g.scripts, script)
		g.firsts = append(g.firsts, first)
		kindCount[r.kind]++
	}
	for _, script := range sortedKeys(exp) {
		if r := exp[script]; !r.pass {
			addFailure(script, r.reason)
		}
	}
	for _, o := range own {
		if o.err != nil {
			addFailure(o.path, o.first)
		}
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].r.line < groups[j].r.line })

	b.Reset()
	b.WriteString("| kind | scripts | meaning |\n|---|---:|---|\n")
	for _, k := range kindOrder {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", k.kind, kindCount[k.kind], k.meaning)
	}
	sections["kinds"] = b.String()

	b.Reset()
	for i, g := range groups {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "#### F%d. %s (%s, %d script%s)\n\n%s\n\n", i+1, g.r.title, g.r.kind, len(g.scripts), plural(len(g.scripts)), g.r.why)
		fmt.Fprintf(&b, "First difference, e.g.: `%s`\n\n", strings.ReplaceAll(g.firsts[0], "`", "'"))
		for _, s := range g.scripts {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if len(groups) == 0 {
		b.WriteString("Every script passes.\n")
	}
	sections["failures"] = b.String()

	// tundra's own scripts.
	b.Reset()
	b.WriteString("| script | what it checks | result |\n|---|---|---|\n")
	for _, o := range own {
		res := "pass"
		if o.err != nil {
			res = "**fails**"
			if r := reasonFor(rs, o.path, o.first); r != nil {
				res += " (" + string(r.kind) + ": " + r.title + ")"
			}
		}
		fmt.Fprintf(&b, "| [%s](../conformance/%s) | %s | %s |\n", strings.TrimPrefix(o.path, ownScriptsDir+"/"), o.path, o.title, res)
	}
	sections["own"] = b.String()
	return sections, unexplained
}

// unusedReasons returns the reasons that are no failing script's reason.
func unusedReasons(exp map[string]result, rs []*reason, own []ownResult) []*reason {
	used := map[*reason]bool{}
	for script, r := range exp {
		if !r.pass {
			used[reasonFor(rs, script, r.reason)] = true
		}
	}
	for _, o := range own {
		if o.err != nil {
			used[reasonFor(rs, o.path, o.first)] = true
		}
	}
	var out []*reason
	for _, r := range rs {
		if !used[r] {
			out = append(out, r)
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// replaceSections puts each section's text between its BEGIN and END
// lines in doc. Every section must have its two lines in doc.
func replaceSections(doc string, sections map[string]string) (string, error) {
	for _, name := range sortedKeys(sections) {
		begin := "<!-- BEGIN " + name + " (generated by go test ./conformance -update) -->\n"
		end := "<!-- END " + name + " -->\n"
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			return "", fmt.Errorf("%s lacks the lines %q and %q", docFile, strings.TrimSpace(begin), strings.TrimSpace(end))
		}
		doc = doc[:i+len(begin)] + sections[name] + doc[j:]
	}
	return doc, nil
}

// TestConformanceDoc fails when docs/conformance.md does not show what
// expectations.txt, reasons.txt and tundra's own scripts say now, or when
// a failing script has no reason. "go test ./conformance -update"
// rewrites the generated parts (after TestFreeBSDSuite has rewritten
// expectations.txt, in the same run).
func TestConformanceDoc(t *testing.T) {
	exp := readExpectations(t)
	rs := readReasons(t)
	own := runOwnScripts(t)
	sections, unexplained := docSections(exp, rs, own)
	for _, u := range unexplained {
		t.Errorf("no reason in %s for the failure of %s", reasonsFile, u)
	}
	for _, r := range unusedReasons(exp, rs, own) {
		t.Logf("%s:%d (%s) explains no failing script now: delete it", reasonsFile, r.line, r.title)
	}
	old, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := replaceSections(string(old), sections)
	if err != nil {
		t.Fatal(err)
	}
	if doc == string(old) {
		return
	}
	if *update {
		if err := os.WriteFile(docFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is stale: run go test ./conformance -update", docFile)
}

func TestReplaceSections(t *testing.T) {
	doc := "intro\n<!-- BEGIN a (generated by go test ./conformance -update) -->\nold\n<!-- END a -->\nend\n"
	got, err := replaceSections(doc, map[string]string{"a": "new\n"})
	if err != nil || got != strings.Replace(doc, "old", "new", 1) {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := replaceSections(doc, map[string]string{"b": "x\n"}); err == nil {
		t.Error("a missing section was not reported")
	}
}

func TestEngineCell(t *testing.T) {
	for script, want := range map[string][2]string{
		"state-event-engine/rcv-syn-fin-wait-1/a.pkt":     {"syn", "fin-wait-1"},
		"state-event-engine/rcv-syn-fin-fin-wait-1/a.pkt": {"syn-fin", "fin-wait-1"},
		"state-event-engine/rcv-rst-ack-syn-rcvd/a.pkt":   {"rst-ack", "syn-rcvd"},
		"state-event-engine/rcv-fin-ack-closing/a.pkt":    {"fin-ack", "closing"},
	} {
		kind, state, ok := engineCell(script)
		if !ok || kind != want[0] || state != want[1] {
			t.Errorf("engineCell(%q) = %q, %q, %v", script, kind, state, ok)
		}
	}
	if _, _, ok := engineCell("snippets/closing-ipv4.pkt"); ok {
		t.Error("a snippet counted in the engine matrix")
	}
}
