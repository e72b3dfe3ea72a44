package protect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// AppliedPath is where apply keeps the plan it applied, in dir
// (PILOTLIGHT_PROTECT_DIR): what drill --app, check and the failback drain
// read to know an application.
func AppliedPath(dir, app string) string { return filepath.Join(dir, app+".applied.json") }

// WriteApplied keeps p as its application's applied plan.
func WriteApplied(dir string, p Plan) error { return WritePlan(AppliedPath(dir, p.App), p) }

// WritePlan writes p as JSON to path.
func WritePlan(path string, p Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadPlan reads a plan file protect plan wrote.
func ReadPlan(path string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s is not a plan written by protect plan: %w", path, err)
	}
	return p, nil
}

// AppliedPlan reads the plan applied for app, naming the fix when there
// is none.
func AppliedPlan(dir, app string) (Plan, error) {
	p, err := ReadPlan(AppliedPath(dir, app))
	if errors.Is(err, os.ErrNotExist) {
		return p, fmt.Errorf("no application %q is protected here (%s is not there): pilotlight protect scan → plan → apply first", app, AppliedPath(dir, app))
	}
	return p, err
}

// Applied are the plans applied in dir for the regions primary → dr
// (plans applied on another target are skipped).
func Applied(dir, primary, dr string) ([]Plan, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.applied.json"))
	if err != nil {
		return nil, err
	}
	var out []Plan
	for _, f := range files {
		p, err := ReadPlan(f)
		if err != nil {
			return nil, err
		}
		if p.Primary == primary && p.DR == dr {
			out = append(out, p)
		}
	}
	return out, nil
}
