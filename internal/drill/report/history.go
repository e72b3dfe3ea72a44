package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// History keeps every drill's report under one directory
// (.pilotlight/reports by default): <time>-<scenario>/report.json and
// report.html, so a drill never overwrites the last one.
type History struct{ Dir string }

// Saved is one kept report.
type Saved struct {
	ID   string // <time>-<scenario>, the directory's name
	JSON string // path of report.json
	HTML string // path of report.html
}

// Save writes the report and its page under a new directory.
func (h History) Save(r *Report) (Saved, error) {
	id := r.Started.UTC().Format("20060102T150405Z") + "-" + string(r.Scenario)
	dir := filepath.Join(h.Dir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Saved{}, fmt.Errorf("keep the report: %w", err)
	}
	s := Saved{ID: id, JSON: filepath.Join(dir, "report.json"), HTML: filepath.Join(dir, "report.html")}
	return s, WriteFiles(r, s.JSON, s.HTML)
}

// WriteFiles writes the report as JSON and as its HTML page.
func WriteFiles(r *Report, jsonPath, htmlPath string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := os.WriteFile(htmlPath, page.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Entry is one line of the history.
type Entry struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"` // "drill" or "failover" (from the control journal)
	Scenario     string    `json:"scenario,omitempty"`
	Target       string    `json:"target,omitempty"`
	At           time.Time `json:"at"`
	Pass         *bool     `json:"pass,omitempty"`
	RTOSeconds   float64   `json:"rto_seconds,omitempty"`
	RPOWrites    *int      `json:"rpo_writes,omitempty"`
	FailbackLost *int      `json:"failback_lost,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	Path         string    `json:"path,omitempty"`
}

// List reads every kept report, oldest first. A report that cannot be read
// is listed with why, not skipped: the history must not hide a drill.
func (h History) List() ([]Entry, error) {
	des, err := os.ReadDir(h.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		p := filepath.Join(h.Dir, de.Name(), "report.json")
		e := Entry{ID: de.Name(), Kind: "drill", Path: p}
		r, err := readReport(p)
		if err != nil {
			e.Detail = "unreadable: " + err.Error()
			if errors.Is(err, os.ErrNotExist) {
				e.Detail = "unreadable: no report.json in it"
			}
			out = append(out, e)
			continue
		}
		pass := r.Pass
		e.Scenario, e.Target, e.At, e.Pass = string(r.Scenario), r.Target, r.Started, &pass
		if r.Failover != nil {
			e.RTOSeconds = r.Failover.RTOSeconds
		}
		if r.RPO != nil {
			n := r.RPO.Missing
			e.RPOWrites = &n
		}
		if r.Failback != nil {
			n := r.Failback.Lost
			e.FailbackLost = &n
		}
		if !r.Pass {
			e.Detail = strings.Join(r.Failures, "; ")
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Load reads one kept report: by ID, or the latest when id is "".
func (h History) Load(id string) (*Report, Saved, error) {
	if id == "" {
		es, err := h.List()
		if err != nil {
			return nil, Saved{}, err
		}
		if len(es) == 0 {
			return nil, Saved{}, fmt.Errorf("no drill reports in %s yet: run `pilotlight drill`", h.Dir)
		}
		id = es[len(es)-1].ID
	}
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil, Saved{}, fmt.Errorf("report %q: give an ID as `pilotlight history` lists it", id)
	}
	s := Saved{ID: id, JSON: filepath.Join(h.Dir, id, "report.json"), HTML: filepath.Join(h.Dir, id, "report.html")}
	r, err := readReport(s.JSON)
	if errors.Is(err, os.ErrNotExist) {
		return nil, s, fmt.Errorf("no report %q in %s: `pilotlight history` lists them", id, h.Dir)
	}
	if err != nil {
		return nil, s, fmt.Errorf("%s: %w", s.JSON, err)
	}
	return r, s, nil
}

func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a drill report (%v)", err)
	}
	return &r, nil
}

// FailoverEntries turns the control journal's runs into history lines: when
// each began, from where to where, and the last phase it reached.
func FailoverEntries(runs map[int64][]record.Entry) []Entry {
	var out []Entry
	for epoch, es := range runs {
		if len(es) == 0 {
			continue
		}
		first, last := es[0], es[len(es)-1]
		e := Entry{ID: fmt.Sprintf("epoch-%d", epoch), Kind: "failover", At: first.At,
			Detail: fmt.Sprintf("%s → %s, %s", first.From, first.To, last.Phase)}
		if last.Phase == record.Completed {
			e.Detail += fmt.Sprintf(" after %.2fs", last.At.Sub(first.At).Seconds())
		}
		if first.Detail != "" {
			e.Detail += " (" + first.Detail + ")"
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}
